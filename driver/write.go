package driver

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cacheops/cacheops/keys"
)

// capture is the plan's capture, for a single plain write.
func (p *plan) capture() *keys.Capture {
	if len(p.Steps) == 1 && !p.captureOff.Load() {
		return p.Steps[0].Capture
	}
	return nil
}

// insufficientPrivilege is SQLSTATE 42501, also a row security violation.
const insufficientPrivilege = "42501"

// captureRejected reports an error PostgreSQL gave the captured form of a
// write but would not have given the caller's own statement: the hidden
// RETURNING needs SELECT privilege (and passes row security's SELECT
// policies), and a prepared capture's result type changes with ALTER COLUMN
// … TYPE. The caller's statement is then run as written.
func captureRejected(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	return pgErr.Code == insufficientPrivilege ||
		pgErr.Code == "0A000" && strings.Contains(pgErr.Message, "cached plan must not change result type")
}

// uncaptured runs the caller's statement as written after its captured form
// was rejected, outside a transaction only (inside one the rejection aborted
// it). A privilege problem turns capturing off for the plan.
func (c *Conn) uncaptured(p *plan, err error) bool {
	if c.tx.Active() || !captureRejected(err) {
		return false
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == insufficientPrivilege {
		p.captureOff.Store(true)
	}
	return true
}

// changes are the changes of a write known by its SQL alone (nil: none, or
// a captured one, whose rows tell).
func (p *plan) changes(args []driver.NamedValue) []keys.Change {
	if len(p.Steps) == 1 && p.Steps[0].Predicate != nil {
		return p.Steps[0].Predicate.Changes(args)
	}
	return nil
}

// captureRows serves the rows of a captured write: the caller sees only its
// own RETURNING columns (none for Exec); the hidden ones, last in each row,
// are kept and turned into changes when the rows are closed, which is when
// the statement has finished.
type captureRows struct {
	forwardRows
	conn    *Conn
	ctx     context.Context
	plan    *plan
	capture *keys.Capture
	visible int
	full    []driver.Value
	rows    [][]driver.Value
	over    bool
	count   int64
	done    bool
	// err ended the rows early: the rows not read are unknown, so the
	// write's relations go whole.
	err error
}

func newCaptureRows(ctx context.Context, c *Conn, p *plan, capt *keys.Capture, rows driver.Rows) *captureRows {
	n := len(rows.Columns())
	return &captureRows{forwardRows: forwardRows{rows}, conn: c, ctx: ctx, plan: p, capture: capt,
		visible: n - len(capt.Cols), full: make([]driver.Value, n)}
}

func (r *captureRows) Columns() []string { return r.Rows.Columns()[:r.visible] }

func (r *captureRows) Next(dest []driver.Value) error {
	if err := r.Rows.Next(r.full); err != nil {
		if err != io.EOF { //nolint:errorlint // drivers return io.EOF itself
			r.err = err
		}
		return err
	}
	r.count++
	copy(dest, r.full[:r.visible])
	switch {
	case r.over:
	case len(r.rows) >= r.conn.cfg.MaxCapturedRows:
		r.over, r.rows = true, nil
	default:
		r.rows = append(r.rows, append([]driver.Value(nil), r.full[r.visible:]...))
	}
	return nil
}

func (r *captureRows) Close() error {
	if r.done {
		return r.Rows.Close()
	}
	r.done = true
	// The rows not read yet were written too: read them for their keys.
	for err := error(nil); err == nil; {
		err = r.Next(make([]driver.Value, r.visible))
	}
	err := r.Rows.Close()
	outcome := err
	if outcome == nil {
		outcome = r.err // the statement's fate is unknown: it may have committed
	}
	r.conn.after(r.ctx, r.plan, outcome, r.capture.Changes(r.rows, r.over))
	return err
}

// execCaptured runs a captured write for Exec: RowsAffected is the number of
// rows the statement returned, one per row it wrote. plain runs the
// caller's statement as written (nil: it cannot be).
func (c *Conn) execCaptured(ctx context.Context, p *plan, capt *keys.Capture, run runQuery, plain runExec) (driver.Result, error) {
	rows, err := run(ctx, capt.SQL)
	if err != nil && plain != nil && c.uncaptured(p, err) {
		res, err := plain(ctx)
		c.after(ctx, p, err, nil) // its tables go whole
		return res, err
	}
	if err != nil {
		c.after(ctx, p, err, nil)
		return nil, err
	}
	r := newCaptureRows(ctx, c, p, capt, rows)
	dest := make([]driver.Value, r.visible)
	for {
		if err = r.Next(dest); err != nil {
			break
		}
	}
	cerr := r.Close()
	if err != io.EOF { //nolint:errorlint // drivers return io.EOF itself
		return nil, err
	}
	if cerr != nil {
		return nil, cerr
	}
	return driver.RowsAffected(r.count), nil
}
