package driver

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"

	"github.com/jackc/pgx/v5"
)

// pgxParent lets a pgx connection stand where a Conn expects a
// database/sql driver connection, for the statements cacheops itself runs
// (the session and the catalog) and for the transaction status. The
// caller's own statements never go through it: the native path runs them
// on the pgx connection directly.
type pgxParent struct {
	conn *pgx.Conn
}

var (
	_ driver.Conn           = (*pgxParent)(nil)
	_ driver.QueryerContext = (*pgxParent)(nil)
	_ driver.ExecerContext  = (*pgxParent)(nil)
	_ driver.ConnBeginTx    = (*pgxParent)(nil)
)

var errNativeOnly = errors.New("cacheops: a pgx connection is used through its own interface")

func (p *pgxParent) Conn() *pgx.Conn { return p.conn }

func (p *pgxParent) Prepare(string) (driver.Stmt, error) { return nil, errNativeOnly }
func (p *pgxParent) Begin() (driver.Tx, error)           { return nil, errNativeOnly }

// Close does nothing: the pool owns the connection.
func (p *pgxParent) Close() error { return nil }

func (p *pgxParent) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	mode := pgx.ReadWrite
	if opts.ReadOnly {
		mode = pgx.ReadOnly
	}
	tx, err := p.conn.BeginTx(ctx, pgx.TxOptions{AccessMode: mode})
	if err != nil {
		return nil, err
	}
	return pgxParentTx{ctx: ctx, tx: tx}, nil
}

type pgxParentTx struct {
	ctx context.Context
	tx  pgx.Tx
}

func (t pgxParentTx) Commit() error   { return t.tx.Commit(t.ctx) }
func (t pgxParentTx) Rollback() error { return t.tx.Rollback(t.ctx) }

func (p *pgxParent) ExecContext(ctx context.Context, sql string, args []driver.NamedValue) (driver.Result, error) {
	tag, err := p.conn.Exec(ctx, sql, anyArgs(args)...)
	if err != nil {
		return nil, err
	}
	return driver.RowsAffected(tag.RowsAffected()), nil
}

func (p *pgxParent) QueryContext(ctx context.Context, sql string, args []driver.NamedValue) (driver.Rows, error) {
	rows, err := p.conn.Query(ctx, sql, anyArgs(args)...)
	if err != nil {
		return nil, err
	}
	return &pgxParentRows{rows: rows}, nil
}

func anyArgs(args []driver.NamedValue) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = a.Value
	}
	return out
}

// pgxParentRows gives the values as pgx's database/sql driver would for the
// types cacheops' own queries return: integers and OIDs as int64, floats as
// float64, text as string, bool, bytea as []byte.
type pgxParentRows struct {
	rows pgx.Rows
}

func (r *pgxParentRows) Columns() []string {
	fds := r.rows.FieldDescriptions()
	names := make([]string, len(fds))
	for i, fd := range fds {
		names[i] = fd.Name
	}
	return names
}

func (r *pgxParentRows) Close() error {
	r.rows.Close()
	return r.rows.Err()
}

func (r *pgxParentRows) Next(dest []driver.Value) error {
	if !r.rows.Next() {
		if err := r.rows.Err(); err != nil {
			return err
		}
		return io.EOF
	}
	vals, err := r.rows.Values()
	if err != nil {
		return err
	}
	for i, v := range vals {
		switch x := v.(type) {
		case int16:
			v = int64(x)
		case int32:
			v = int64(x)
		case uint32:
			v = int64(x)
		case float32:
			v = float64(x)
		}
		dest[i] = v
	}
	return nil
}
