package cacheops

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	cdriver "github.com/cacheops/cacheops/driver"
)

// Pool is a pgxpool.Pool with the cache: pgx's own interface, served from
// Redis where a *sql.DB from the same Cache would be, invalidated by the
// same stamps. It satisfies sqlc's pgx/v5 DBTX.
//
// Reads use the cache; writes (Exec, Query, CopyFrom, batches) invalidate
// what they wrote before they return, or at commit inside a transaction. A
// hit holds no connection: its rows scan with a copy of the connection's
// type map, into everything pgx scans into. Statements run on a connection
// taken out with Conn (or on the pool Unwrap returns) bypass the cache and
// invalidate nothing.
type Pool struct {
	pool *pgxpool.Pool
	cfg  *cdriver.Config
}

// WrapPool returns p with the cache. p stays usable on its own (without
// the cache); closing either closes both.
func (c *Cache) WrapPool(p *pgxpool.Pool) *Pool {
	c.watchDSN(p.Config().ConnString())
	return &Pool{pool: p, cfg: c.cfg}
}

// Unwrap returns the wrapped pool. Statements run on it bypass the cache
// and invalidate nothing.
func (p *Pool) Unwrap() *pgxpool.Pool { return p.pool }

// acquire takes a connection and its cache state, which the first use of a
// connection makes by reading its session (one round trip).
func (p *Pool) acquire(ctx context.Context) (*PoolConn, error) {
	pc, err := p.pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	n, err := cdriver.Native(ctx, p.cfg, pc.Conn())
	if err != nil {
		pc.Release()
		return nil, err
	}
	return &PoolConn{pc: pc, n: n}, nil
}

// Exec runs a statement on a connection of the pool.
func (p *Pool) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	c, err := p.acquire(ctx)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	defer c.Release()
	return c.Exec(ctx, sql, args...)
}

// Query runs a query. Rows from PostgreSQL hold their connection until they
// are closed or read to the end; rows from the cache hold none.
func (p *Pool) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	c, err := p.acquire(ctx)
	if err != nil {
		return cdriver.ErrRows(err), err
	}
	rows, err := c.Query(ctx, sql, args...)
	if err != nil || cdriver.Detached(rows) {
		c.Release()
		return rows, err
	}
	return &poolRows{Rows: rows, c: c}, nil
}

// QueryRow runs a query for one row.
func (p *Pool) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return cdriver.RowOf(p.Query(ctx, sql, args...))
}

// Begin begins a transaction on a connection of the pool, which goes back
// to the pool when the transaction ends.
func (p *Pool) Begin(ctx context.Context) (pgx.Tx, error) {
	return p.BeginTx(ctx, pgx.TxOptions{})
}

// BeginTx begins a transaction with options.
func (p *Pool) BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error) {
	c, err := p.acquire(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := c.n.BeginTx(ctx, opts, c.Release)
	if err != nil {
		c.Release()
		return nil, err
	}
	return tx, nil
}

// SendBatch sends a batch on a connection of the pool, which goes back to
// the pool when the batch is closed (or the transaction it began ends).
func (p *Pool) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	c, err := p.acquire(ctx)
	if err != nil {
		return pgx.FailedBatchResults(b, err)
	}
	return c.n.SendBatch(ctx, b, c.Release)
}

// CopyFrom copies rows into a table and invalidates it.
func (p *Pool) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	c, err := p.acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer c.Release()
	return c.CopyFrom(ctx, table, columns, src)
}

// Acquire takes a connection out of the pool; Release gives it back.
func (p *Pool) Acquire(ctx context.Context) (*PoolConn, error) { return p.acquire(ctx) }

// AcquireFunc runs f with a connection of the pool and gives it back.
func (p *Pool) AcquireFunc(ctx context.Context, f func(*PoolConn) error) error {
	c, err := p.acquire(ctx)
	if err != nil {
		return err
	}
	defer c.Release()
	return f(c)
}

// Ping pings the server on a connection of the pool.
func (p *Pool) Ping(ctx context.Context) error { return p.pool.Ping(ctx) }

// Stat returns the pool's statistics.
func (p *Pool) Stat() *pgxpool.Stat { return p.pool.Stat() }

// Config returns a copy of the pool's configuration.
func (p *Pool) Config() *pgxpool.Config { return p.pool.Config() }

// Reset closes every connection of the pool, now or once released.
func (p *Pool) Reset() { p.pool.Reset() }

// Close closes the pool (and the wrapped pool: they are one).
func (p *Pool) Close() { p.pool.Close() }

// poolRows give their connection back when they end or are closed.
type poolRows struct {
	pgx.Rows
	c *PoolConn
}

func (r *poolRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

func (r *poolRows) Close() {
	r.Rows.Close()
	if r.c != nil {
		r.c.Release()
		r.c = nil
	}
}

// InvalidateTables invalidates every cached read of the named tables, for
// writes made outside cacheops (on an unwrapped pool, psql, a migration):
// see the package function of the same name.
func (p *Pool) InvalidateTables(ctx context.Context, tables ...string) error {
	return p.AcquireFunc(ctx, func(c *PoolConn) error { return c.n.Invalidate(ctx, tables, false) })
}

// InvalidateRows invalidates every cached read that may hold the rows of
// table: see the package function of the same name.
func (p *Pool) InvalidateRows(ctx context.Context, table string, rows ...Row) error {
	return p.AcquireFunc(ctx, func(c *PoolConn) error { return c.n.InvalidateRows(ctx, table, rowMaps(rows)) })
}

// InvalidateAll invalidates every cached read of the pool's database, and
// makes every process reload its catalog.
func (p *Pool) InvalidateAll(ctx context.Context) error {
	return p.AcquireFunc(ctx, func(c *PoolConn) error { return c.n.Invalidate(ctx, nil, true) })
}
