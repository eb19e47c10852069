package driver

import (
	"context"
	"database/sql/driver"
	"errors"

	"github.com/cacheops/cacheops/keys"
)

var (
	_ driver.Stmt              = (*Stmt)(nil)
	_ driver.StmtExecContext   = (*Stmt)(nil)
	_ driver.StmtQueryContext  = (*Stmt)(nil)
	_ driver.NamedValueChecker = (*Stmt)(nil)
)

// Stmt is a prepared statement: reads through it use the cache like any
// other read, writes through it invalidate like any other write.
type Stmt struct {
	conn    *Conn
	parent  driver.Stmt
	query   string
	capture *keys.Capture
}

// Close implements driver.Stmt.
func (s *Stmt) Close() error { return s.parent.Close() }

// NumInput implements driver.Stmt.
func (s *Stmt) NumInput() int { return s.parent.NumInput() }

// Exec implements driver.Stmt.
func (s *Stmt) Exec(args []driver.Value) (driver.Result, error) {
	return s.ExecContext(context.Background(), named(args))
}

// Query implements driver.Stmt.
func (s *Stmt) Query(args []driver.Value) (driver.Rows, error) {
	return s.QueryContext(context.Background(), named(args))
}

// ExecContext implements driver.StmtExecContext.
func (s *Stmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	p := s.conn.plan(ctx, s.query)
	var plain runExec
	if ex, ok := s.conn.parent.(driver.ExecerContext); ok {
		plain = func(ctx context.Context) (driver.Result, error) { return ex.ExecContext(ctx, s.query, args) }
	}
	if s.capture != nil && p.captureOff.Load() && plain != nil {
		res, err := plain(ctx) // prepared with a capture PostgreSQL refuses
		s.conn.after(ctx, p, err, nil)
		return res, err
	}
	if s.capture != nil {
		return s.conn.execCaptured(ctx, p, s.capture, s.run(args), plain)
	}
	var res driver.Result
	var err error
	if ex, ok := s.parent.(driver.StmtExecContext); ok {
		res, err = ex.ExecContext(ctx, args)
	} else if vals, verr := values(args); verr != nil {
		return nil, verr
	} else {
		//lint:ignore SA1019 the parent offers nothing else
		res, err = s.parent.Exec(vals)
	}
	s.conn.after(ctx, p, err, p.changes(args))
	return res, err
}

// QueryContext implements driver.StmtQueryContext.
func (s *Stmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	var plain runQuery
	if q, ok := s.conn.parent.(driver.QueryerContext); ok {
		plain = func(ctx context.Context, _ string) (driver.Rows, error) { return q.QueryContext(ctx, s.query, args) }
	}
	p := s.conn.plan(ctx, s.query)
	f := sqlForm{runQ: s.run(args), plainQ: plain, text: s.query}
	capt := s.capture
	if capt != nil && p.captureOff.Load() && plain != nil {
		// Prepared with a capture PostgreSQL refuses: run as written.
		f.runQ, capt = plain, nil
	}
	// database/sql checks the arguments against NumInput: pgx's options
	// cannot reach a prepared statement.
	return statement(s.conn, ctx, p, s.query, "", args, capt, f)
}

// run runs the prepared statement, whatever text it is asked for: it runs
// what it was prepared with.
func (s *Stmt) run(args []driver.NamedValue) runQuery {
	return func(ctx context.Context, _ string) (driver.Rows, error) {
		if q, ok := s.parent.(driver.StmtQueryContext); ok {
			return q.QueryContext(ctx, args)
		}
		vals, err := values(args)
		if err != nil {
			return nil, err
		}
		//lint:ignore SA1019 the parent offers nothing else
		return s.parent.Query(vals)
	}
}

// CheckNamedValue implements driver.NamedValueChecker.
func (s *Stmt) CheckNamedValue(nv *driver.NamedValue) error {
	if ch, ok := s.parent.(driver.NamedValueChecker); ok {
		return ch.CheckNamedValue(nv)
	}
	return s.conn.CheckNamedValue(nv)
}

func named(args []driver.Value) []driver.NamedValue {
	out := make([]driver.NamedValue, len(args))
	for i, v := range args {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return out
}

func values(args []driver.NamedValue) ([]driver.Value, error) {
	out := make([]driver.Value, len(args))
	for i, a := range args {
		if a.Name != "" {
			return nil, errors.New("cacheops: the wrapped driver does not support named arguments")
		}
		out[i] = a.Value
	}
	return out, nil
}
