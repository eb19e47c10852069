package driver

import (
	"context"
	"errors"
	"reflect"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cacheops/cacheops/keys"
)

// BeginTx begins a transaction. end, when set, is called once the
// transaction has ended (a pool releases the connection then).
func (n *PgxConn) BeginTx(ctx context.Context, opts pgx.TxOptions, end func()) (*PgxTx, error) {
	c := n.c
	c.catchUp(ctx)
	level := pgxIsolation(opts.IsoLevel)
	known := opts.BeginQuery == ""
	if !known {
		// A BEGIN of the caller's own: its analysis names the level.
		if p := c.plan(ctx, opts.BeginQuery); len(p.Steps) == 1 && p.Steps[0].Txn == keys.TxnBegin {
			level, known = p.Steps[0].Isolation, true
		}
	}
	tx, err := n.conn.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	c.tx.Begin(level, c.sess.defaultIsolation)
	if !known {
		c.tx.Dirty() // a transaction begun by unknown SQL reads past the cache
	}
	return &PgxTx{n: n, parent: tx, outer: true, end: end}, nil
}

func pgxIsolation(l pgx.TxIsoLevel) string {
	switch l {
	case pgx.Serializable:
		return "serializable"
	case pgx.RepeatableRead:
		return "repeatable read"
	case pgx.ReadCommitted, pgx.ReadUncommitted:
		return "read committed"
	}
	return ""
}

// PgxTx is a pgx.Tx with the cache: its reads use the cache until it
// writes (like a database/sql transaction's), its writes are invalidated
// when it commits and dropped when it rolls back. Begin makes a savepoint.
type PgxTx struct {
	n      *PgxConn
	parent pgx.Tx
	// outer: the transaction itself, not a savepoint.
	outer  bool
	end    func()
	closed bool
}

var _ pgx.Tx = (*PgxTx)(nil)

// Begin starts a pseudo nested transaction (a savepoint).
func (t *PgxTx) Begin(ctx context.Context) (pgx.Tx, error) {
	if t.closed {
		return nil, pgx.ErrTxClosed
	}
	sp, err := t.parent.Begin(ctx)
	if err != nil {
		return nil, err
	}
	return &PgxTx{n: t.n, parent: sp}, nil
}

// Commit commits (a savepoint: releases it), then invalidates what the
// transaction wrote before returning. A commit whose reply was lost is
// treated as possibly done; one PostgreSQL answered with ROLLBACK (the
// transaction had failed) as a rollback.
func (t *PgxTx) Commit(ctx context.Context) error {
	if t.closed {
		return t.parent.Commit(ctx) // pgx's answer for a closed transaction
	}
	t.closed = true
	err := t.parent.Commit(ctx)
	if t.outer {
		c := t.n.c
		committed := !errors.Is(err, pgx.ErrTxCommitRollback)
		c.rereadSession(ctx, c.endTx(ctx, committed, err))
		t.ended()
	}
	return err
}

// Rollback rolls back (a savepoint: rolls back to it) and drops what the
// transaction queued. After Commit it only returns pgx's ErrTxClosed, so it
// can be deferred.
func (t *PgxTx) Rollback(ctx context.Context) error {
	if t.closed {
		return t.parent.Rollback(ctx)
	}
	t.closed = true
	err := t.parent.Rollback(ctx)
	c := t.n.c
	switch {
	case t.outer:
		c.rereadSession(ctx, c.endTx(ctx, false, err))
		t.ended()
	case err == nil:
		c.tx.RolledBackToSavepoint()
	}
	return err
}

func (t *PgxTx) ended() {
	if t.end != nil {
		t.end()
		t.end = nil
	}
}

func (t *PgxTx) CopyFrom(ctx context.Context, tableName pgx.Identifier, columnNames []string, rowSrc pgx.CopyFromSource) (int64, error) {
	if t.closed {
		return 0, pgx.ErrTxClosed
	}
	return t.n.CopyFrom(ctx, tableName, columnNames, rowSrc)
}

func (t *PgxTx) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if t.closed {
		return pgx.FailedBatchResults(b, pgx.ErrTxClosed)
	}
	if batchTxOptions(b) != nil {
		return pgx.FailedBatchResults(b, errors.New("Batch.BeginTx cannot be used within a transaction"))
	}
	return t.n.SendBatch(ctx, b, nil)
}

// LargeObjects are pgx's own: large objects are not relations cacheops
// caches.
func (t *PgxTx) LargeObjects() pgx.LargeObjects { return t.parent.LargeObjects() }

// Prepare prepares a statement; running it by name is analysed as its SQL.
func (t *PgxTx) Prepare(ctx context.Context, name, sql string) (*pgconn.StatementDescription, error) {
	if t.closed {
		return nil, pgx.ErrTxClosed
	}
	sd, err := t.parent.Prepare(ctx, name, sql)
	if err == nil {
		if name == "" {
			name = sql
		}
		if t.n.prepared == nil {
			t.n.prepared = map[string]string{}
		}
		t.n.prepared[name] = sql
	}
	return sd, err
}

func (t *PgxTx) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if t.closed {
		return pgconn.CommandTag{}, pgx.ErrTxClosed
	}
	return t.n.Exec(ctx, sql, args...)
}

func (t *PgxTx) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if t.closed {
		return errRows{err: pgx.ErrTxClosed}, pgx.ErrTxClosed
	}
	return t.n.Query(ctx, sql, args...)
}

func (t *PgxTx) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	rows, err := t.Query(ctx, sql, args...)
	return &pgxRow{rows: rows, err: err}
}

// Conn returns the pgx connection: statements run on it directly bypass the
// cache and invalidate nothing.
func (t *PgxTx) Conn() *pgx.Conn { return t.n.conn }

// batchTxOptions reads the options a batch was given by Batch.BeginTx, which
// pgx keeps unexported (nil: none).
func batchTxOptions(b *pgx.Batch) *pgx.TxOptions {
	f := reflect.ValueOf(b).Elem().FieldByName("txOptions")
	if !f.IsValid() || f.Kind() != reflect.Pointer || f.IsNil() {
		return nil
	}
	o := f.Elem()
	str := func(name string) string {
		if v := o.FieldByName(name); v.IsValid() && v.Kind() == reflect.String {
			return v.String()
		}
		return ""
	}
	return &pgx.TxOptions{IsoLevel: pgx.TxIsoLevel(str("IsoLevel")), AccessMode: pgx.TxAccessMode(str("AccessMode")),
		DeferrableMode: pgx.TxDeferrableMode(str("DeferrableMode")), BeginQuery: str("BeginQuery"), CommitQuery: str("CommitQuery")}
}
