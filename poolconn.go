package cacheops

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	cdriver "github.com/cacheops/cacheops/driver"
)

// PoolConn is a connection taken out of a Pool, with the cache. Release
// gives it back.
type PoolConn struct {
	pc *pgxpool.Conn
	n  *cdriver.PgxConn
}

// Release gives the connection back to the pool; it is safe to call twice.
func (c *PoolConn) Release() {
	if c.pc != nil {
		c.pc.Release()
		c.pc = nil
	}
}

// Exec runs a statement.
func (c *PoolConn) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return c.n.Exec(ctx, sql, args...)
}

// Query runs a query.
func (c *PoolConn) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return c.n.Query(ctx, sql, args...)
}

// QueryRow runs a query for one row.
func (c *PoolConn) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return c.n.QueryRow(ctx, sql, args...)
}

// Begin begins a transaction; the connection stays taken out after it ends.
func (c *PoolConn) Begin(ctx context.Context) (pgx.Tx, error) {
	return c.BeginTx(ctx, pgx.TxOptions{})
}

// BeginTx begins a transaction with options.
func (c *PoolConn) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	tx, err := c.n.BeginTx(ctx, opts, nil)
	if err != nil {
		return nil, err
	}
	return tx, nil
}

// SendBatch sends a batch.
func (c *PoolConn) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return c.n.SendBatch(ctx, b, nil)
}

// CopyFrom copies rows into a table and invalidates it.
func (c *PoolConn) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	return c.n.CopyFrom(ctx, table, columns, src)
}

// Ping pings the server.
func (c *PoolConn) Ping(ctx context.Context) error { return c.n.Ping(ctx) }

// Conn returns the pgx connection. Statements run on it directly bypass the
// cache and invalidate nothing.
func (c *PoolConn) Conn() *pgx.Conn { return c.n.Conn() }
