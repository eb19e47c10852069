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

// captureLog keeps a captured write's hidden values row by row, up to
// MaxCapturedRows, and applies the write's effects by them when the
// statement has finished. Both APIs' captured rows feed one.
type captureLog struct {
	conn    *Conn
	ctx     context.Context
	plan    *plan
	capture *keys.Capture
	rows    [][]driver.Value
	over    bool
	count   int64
	done    bool
	// err ended the rows early: the rows not read are unknown, so the
	// write's relations go whole.
	err error
	// apply, when set, takes the effects instead of applying them now (a
	// batch applies its statements' effects once it has ended).
	apply func(outcome error, changes []keys.Change)
}

func newCaptureLog(ctx context.Context, c *Conn, p *plan, capt *keys.Capture) *captureLog {
	return &captureLog{conn: c, ctx: ctx, plan: p, capture: capt}
}

// add records one written row's hidden values (kept, not copied).
func (l *captureLog) add(hidden []driver.Value) {
	l.count++
	switch {
	case l.over:
	case len(l.rows) >= l.conn.cfg.MaxCapturedRows:
		l.over, l.rows = true, nil
	default:
		l.rows = append(l.rows, hidden)
	}
}

// fail records an error that ended the rows.
func (l *captureLog) fail(err error) {
	if l.err == nil {
		l.err = err
	}
}

// finish applies the effects once; closeErr is what closing the rows said.
func (l *captureLog) finish(closeErr error) {
	if l.done {
		return
	}
	l.done = true
	outcome := closeErr
	if outcome == nil {
		outcome = l.err // the statement's fate is unknown: it may have committed
	}
	changes := l.capture.Changes(l.rows, l.over)
	if l.apply != nil {
		l.apply(outcome, changes)
		return
	}
	l.conn.after(l.ctx, l.plan, outcome, changes)
}

// captureRows serves the rows of a captured write: the caller sees only its
// own RETURNING columns (none for Exec); the hidden ones, last in each row,
// are kept and turned into changes when the rows are closed, which is when
// the statement has finished.
type captureRows struct {
	forwardRows
	log     *captureLog
	visible int
	full    []driver.Value
}

func (r *captureRows) Columns() []string { return r.Rows.Columns()[:r.visible] }

func (r *captureRows) Next(dest []driver.Value) error {
	if err := r.Rows.Next(r.full); err != nil {
		if err != io.EOF { //nolint:errorlint // drivers return io.EOF itself
			r.log.fail(err)
		}
		return err
	}
	copy(dest, r.full[:r.visible])
	r.log.add(append([]driver.Value(nil), r.full[r.visible:]...))
	return nil
}

func (r *captureRows) Close() error {
	if r.log.done {
		return r.Rows.Close()
	}
	// The rows not read yet were written too: read them for their keys.
	for err := error(nil); err == nil; {
		err = r.Next(make([]driver.Value, r.visible))
	}
	err := r.Rows.Close()
	r.log.finish(err)
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
	r := sqlForm{}.captured(rows, newCaptureLog(ctx, c, p, capt)).(*captureRows)
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
	return driver.RowsAffected(r.log.count), nil
}
