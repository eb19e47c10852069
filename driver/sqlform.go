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

func (sqlForm) decode(payload []byte) (*serialize.Result, error) { return serialize.Decode(payload) }

// fits: database/sql values do not depend on the connection.
func (sqlForm) fits(*serialize.Result) bool { return true }

func (sqlForm) replay(res *serialize.Result, ended error) driver.Rows {
	r := newReplayRows(res)
	r.err = ended
	return r
}

// record reads a whole result. It returns rows to stream on instead when the
// result has more than MaxRows rows or a value that cannot be cached.
func (sqlForm) record(c *Conn, rows driver.Rows) (*serialize.Result, error, driver.Rows, bool) {
	fr := forwardRows{rows}
	cols := fr.columns()
	res := &serialize.Result{Columns: cols}
	if _, err := serialize.NewEncoder(cols); err != nil {
		return nil, nil, &prefixRows{forwardRows: fr}, false
	}
	var ended error
	for {
		dest := make([]driver.Value, len(cols))
		err := rows.Next(dest)
		if err == io.EOF { //nolint:errorlint // drivers return io.EOF itself
			break
		}
		if err != nil {
			ended = err
			break
		}
		for i, v := range dest {
			if b, ok := v.([]byte); ok && b != nil {
				dest[i] = append([]byte{}, b...) // the driver may reuse its buffer
			}
		}
		res.Rows = append(res.Rows, dest)
		if len(res.Rows) > c.cfg.MaxRows {
			return nil, nil, &prefixRows{forwardRows: fr, buffered: res.Rows}, false
		}
	}
	if err := rows.Close(); err != nil && ended == nil {
		ended = err
	}
	return res, ended, nil, true
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

// prefixRows replays the rows already read, then streams on.
type prefixRows struct {
	forwardRows
	buffered [][]driver.Value
}

func (r *prefixRows) Next(dest []driver.Value) error {
	if len(r.buffered) > 0 {
		copy(dest, r.buffered[0])
		r.buffered = r.buffered[1:]
		return nil
	}
	return r.Rows.Next(dest)
}
