package driver

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/cacheops/cacheops/txn"
)

var (
	_ driver.Conn               = (*Conn)(nil)
	_ driver.ConnBeginTx        = (*Conn)(nil)
	_ driver.ConnPrepareContext = (*Conn)(nil)
	_ driver.ExecerContext      = (*Conn)(nil)
	_ driver.QueryerContext     = (*Conn)(nil)
	_ driver.Pinger             = (*Conn)(nil)
	_ driver.SessionResetter    = (*Conn)(nil)
	_ driver.Validator          = (*Conn)(nil)
	_ driver.NamedValueChecker  = (*Conn)(nil)
)

// Conn is one caching connection. database/sql never uses a connection from
// two goroutines at once, so its state needs no lock.
type Conn struct {
	parent driver.Conn
	cfg    *Config
	sess   session
	tx     txn.State

	plans   *lru.Cache[string, *plan]
	planGen uint64
}

// Raw returns the wrapped connection (a *stdlib.Conn for pgx). Statements run
// on it directly bypass the cache and invalidate nothing.
func (c *Conn) Raw() driver.Conn { return c.parent }

// Prepare implements driver.Conn.
func (c *Conn) Prepare(query string) (driver.Stmt, error) {
	return c.PrepareContext(context.Background(), query)
}

// PrepareContext implements driver.ConnPrepareContext.
func (c *Conn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	// A captured write is prepared with its hidden RETURNING, and keeps the
	// capture it was prepared with.
	capt := c.plan(ctx, query).capture()
	text := query
	if capt != nil {
		text = capt.SQL
	}
	var st driver.Stmt
	var err error
	if pc, ok := c.parent.(driver.ConnPrepareContext); ok {
		st, err = pc.PrepareContext(ctx, text)
	} else {
		st, err = c.parent.Prepare(text)
	}
	if err != nil {
		return nil, err
	}
	return &Stmt{conn: c, parent: st, query: query, capture: capt}, nil
}

// Close implements driver.Conn.
func (c *Conn) Close() error { return c.parent.Close() }

// Begin implements driver.Conn.
func (c *Conn) Begin() (driver.Tx, error) {
	return c.BeginTx(context.Background(), driver.TxOptions{})
}

// BeginTx implements driver.ConnBeginTx.
func (c *Conn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.catchUp(ctx)
	var tx driver.Tx
	var err error
	if bt, ok := c.parent.(driver.ConnBeginTx); ok {
		tx, err = bt.BeginTx(ctx, opts)
	} else if opts.Isolation == driver.IsolationLevel(sql.LevelDefault) && !opts.ReadOnly {
		//lint:ignore SA1019 the parent offers nothing else
		tx, err = c.parent.Begin()
	} else {
		return nil, errors.New("cacheops: the wrapped driver does not support transaction options")
	}
	if err != nil {
		return nil, err
	}
	c.tx.Begin(isolationName(sql.IsolationLevel(opts.Isolation)), c.sess.defaultIsolation)
	return &Tx{conn: c, parent: tx}, nil
}

// catchUp reloads the catalog and re-reads the session where due, before a
// transaction starts, when a catalog query can still not hurt it: after DDL
// the transaction can then use the cache.
func (c *Conn) catchUp(ctx context.Context) {
	if c.tx.Active() {
		return
	}
	if db := c.sess.db; db.stale.Load() || db.wantReload.Load() {
		c.catalog(ctx)
	}
	if !c.sess.ok {
		_ = c.readSession(ctx)
	}
}

func isolationName(l sql.IsolationLevel) string {
	switch l {
	case sql.LevelDefault:
		return ""
	case sql.LevelRepeatableRead, sql.LevelSnapshot:
		return "repeatable read"
	case sql.LevelSerializable, sql.LevelLinearizable:
		return "serializable"
	}
	return "read committed"
}

// ExecContext implements driver.ExecerContext.
func (c *Conn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	ex, ok := c.parent.(driver.ExecerContext)
	if !ok {
		return nil, driver.ErrSkip // database/sql prepares instead; Stmt handles it
	}
	query, args, params, _, err := c.sqlOptions(ctx, query, args)
	if err != nil {
		return nil, err
	}
	p := c.plan(ctx, query)
	if capt := p.capture(); capt != nil {
		if q, ok := c.parent.(driver.QueryerContext); ok {
			return c.execCaptured(ctx, p, capt, func(ctx context.Context, sql string) (driver.Rows, error) {
				return q.QueryContext(ctx, sql, args)
			}, func(ctx context.Context) (driver.Result, error) { return ex.ExecContext(ctx, query, args) })
		}
	}
	res, err := ex.ExecContext(ctx, query, args)
	if err != driver.ErrSkip { //nolint:errorlint // database/sql compares ErrSkip by value
		c.after(ctx, p, err, p.changes(params))
	}
	return res, err
}

// QueryContext implements driver.QueryerContext.
func (c *Conn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	q, ok := c.parent.(driver.QueryerContext)
	if !ok {
		return nil, driver.ErrSkip
	}
	query, args, params, ns, err := c.sqlOptions(ctx, query, args)
	if err != nil {
		return nil, err
	}
	p := c.plan(ctx, query)
	run := func(ctx context.Context, sql string) (driver.Rows, error) {
		if sql == "" {
			sql = query
		}
		return q.QueryContext(ctx, sql, args)
	}
	return statement(c, ctx, p, query, ns, params, p.capture(), sqlForm{runQ: run, plainQ: run, text: query})
}

// Ping implements driver.Pinger.
func (c *Conn) Ping(ctx context.Context) error {
	if p, ok := c.parent.(driver.Pinger); ok {
		return p.Ping(ctx)
	}
	return nil
}

// ResetSession implements driver.SessionResetter.
func (c *Conn) ResetSession(ctx context.Context) error {
	if r, ok := c.parent.(driver.SessionResetter); ok {
		return r.ResetSession(ctx)
	}
	return nil
}

// IsValid implements driver.Validator.
func (c *Conn) IsValid() bool {
	if v, ok := c.parent.(driver.Validator); ok {
		return v.IsValid()
	}
	return true
}

// CheckNamedValue implements driver.NamedValueChecker, so arguments reach the
// wrapped driver exactly as they would without cacheops.
func (c *Conn) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := c.parent.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return driver.ErrSkip
}
