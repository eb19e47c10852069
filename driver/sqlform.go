package driver

import (
	"context"
	"database/sql/driver"
	"io"

	"github.com/cacheops/cacheops/serialize"
)

// sqlForm is database/sql's result form: driver values, recorded with what
// database/sql can learn about every column.
type sqlForm struct {
	runQ, plainQ runQuery
	text         string
}

var _ stmtForm[driver.Rows, *serialize.Result] = sqlForm{}

func (f sqlForm) run(ctx context.Context) (driver.Rows, error) { return f.runQ(ctx, f.text) }

func (f sqlForm) runSQL(ctx context.Context, sql string) (driver.Rows, error) {
	return f.runQ(ctx, sql)
}

func (f sqlForm) plain(ctx context.Context) (driver.Rows, error, bool) {
	if f.plainQ == nil {
		return nil, nil, false
	}
	rows, err := f.plainQ(ctx, f.text)
	return rows, err, true
}

func (sqlForm) captured(rows driver.Rows, log *captureLog) driver.Rows {
	n := len(rows.Columns())
	return &captureRows{forwardRows: forwardRows{rows}, log: log, visible: n - len(log.capture.Cols), full: make([]driver.Value, n)}
}

func (sqlForm) hooked(rows driver.Rows, done func(error)) driver.Rows {
	return &hookRows{forwardRows: forwardRows{rows}, done: done}
}

func (sqlForm) failed(driver.Rows, error) driver.Rows { return nil }

func (sqlForm) decode(payload []byte) (*serialize.Result, error) {
	return serialize.DecodeOwned(payload)
}

// fits: database/sql values do not depend on the connection.
func (sqlForm) fits(*serialize.Result) bool { return true }

func (sqlForm) replay(res *serialize.Result) driver.Rows { return newReplayRows(res) }

// tee hands the rows on as the driver reads them, recording them.
func (sqlForm) tee(c *Conn, rows driver.Rows, p progress, done func(*serialize.Result, bool, error)) driver.Rows {
	fr := forwardRows{rows}
	cols := fr.columns()
	p.reading(false)
	t := &teeRows{forwardRows: fr, max: c.cfg.MaxRows, p: p, done: done}
	if _, err := serialize.NewEncoder(cols); err == nil {
		t.res = &serialize.Result{Columns: cols}
	}
	return t
}

// teeRows serves a miss's rows as the driver reads them and records them on
// the way; closed early, it reads the rest into the recording first (a
// QueryRow reads one row and closes).
type teeRows struct {
	forwardRows
	res    *serialize.Result // nil once the result cannot be stored
	max    int
	over   bool  // the driver's rows ended
	ended  error // the error that ended them
	closed bool
	p      progress
	done   func(*serialize.Result, bool, error)
}

func (r *teeRows) Next(dest []driver.Value) error {
	r.p.reading(true)
	err := r.Rows.Next(dest)
	r.p.reading(false)
	switch {
	case err == nil:
		r.keep(dest)
	case err == io.EOF: //nolint:errorlint // drivers return io.EOF itself
		r.over = true
	default:
		r.over, r.ended = true, err
	}
	return err
}

func (r *teeRows) keep(row []driver.Value) {
	if r.res == nil {
		return
	}
	rec := make([]driver.Value, len(row))
	for i, v := range row {
		if b, ok := v.([]byte); ok && b != nil {
			v = append([]byte{}, b...) // the driver may reuse its buffer
		}
		rec[i] = v
	}
	r.res.Rows = append(r.res.Rows, rec)
	if len(r.res.Rows) > r.max {
		r.res = nil
	}
}

func (r *teeRows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	if !r.over && r.res != nil {
		dest := make([]driver.Value, len(r.res.Columns))
		for r.res != nil && r.Next(dest) == nil {
		}
	}
	err := r.Rows.Close()
	if err != nil && r.ended == nil {
		r.ended = err
	}
	r.done(r.res, r.res != nil && r.over, r.ended)
	return err
}

func (sqlForm) encode(res *serialize.Result) ([]byte, error) {
	enc, err := serialize.NewEncoder(res.Columns)
	for _, row := range res.Rows {
		if err == nil {
			err = enc.AddRow(row)
		}
	}
	if err != nil {
		return nil, err
	}
	return enc.Bytes()
}
