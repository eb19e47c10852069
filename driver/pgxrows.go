package driver

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"reflect"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/cacheops/cacheops/serialize"
)

// rowScanner scans raw values as pgx's own rows do: a scan plan per column,
// made for the first destination of its type and kept.
type rowScanner struct {
	plans []pgtype.ScanPlan
	types []reflect.Type
}

func (s *rowScanner) scan(m *pgtype.Map, fds []pgconn.FieldDescription, raw [][]byte, dest []any) error {
	if len(fds) != len(raw) {
		return fmt.Errorf("number of field descriptions must equal number of values, got %d and %d", len(fds), len(raw))
	}
	if len(fds) != len(dest) {
		return fmt.Errorf("number of field descriptions must equal number of destinations, got %d and %d", len(fds), len(dest))
	}
	if s.plans == nil {
		s.plans = make([]pgtype.ScanPlan, len(fds))
		s.types = make([]reflect.Type, len(fds))
	}
	for i, dst := range dest {
		if dst == nil {
			continue
		}
		if t := reflect.TypeOf(dst); s.plans[i] == nil || s.types[i] != t {
			s.plans[i], s.types[i] = m.PlanScan(fds[i].DataTypeOID, fds[i].Format, dst), t
		}
		if err := s.plans[i].Scan(raw[i], dst); err != nil {
			return pgx.ScanArgError{ColumnIndex: i, FieldName: fds[i].Name, Err: err}
		}
	}
	return nil
}

// decodeValues is pgx's Rows.Values: each value decoded by its type's
// codec, or as text or a copy of its bytes when the type is not known.
func decodeValues(m *pgtype.Map, fds []pgconn.FieldDescription, raw [][]byte) ([]any, error) {
	values := make([]any, len(fds))
	for i := range fds {
		v, err := decodeValue(m, &fds[i], raw[i])
		if err != nil {
			return nil, err
		}
		values[i] = v
	}
	return values, nil
}

func decodeValue(m *pgtype.Map, fd *pgconn.FieldDescription, buf []byte) (any, error) {
	if buf == nil {
		return nil, nil
	}
	if dt, ok := m.TypeForOID(fd.DataTypeOID); ok {
		return dt.Codec.DecodeValue(m, fd.DataTypeOID, fd.Format, buf)
	}
	switch fd.Format {
	case pgx.TextFormatCode:
		return string(buf), nil
	case pgx.BinaryFormatCode:
		return append([]byte(nil), buf...), nil
	}
	return nil, errors.New("unknown format code")
}

// wireRows replays a recorded result through pgx's Rows interface.
type wireRows struct {
	w   *serialize.Wire
	m   *pgtype.Map
	put func(*pgtype.Map)

	next    int // rows served
	closed  bool
	err     error
	scanner rowScanner
}

var _ pgx.Rows = (*wireRows)(nil)

// Detached reports whether rows hold no connection: a replay of a cached or
// shared result, whose connection can go back to the pool at once.
func Detached(rows pgx.Rows) bool {
	_, ok := rows.(*wireRows)
	return ok
}

func (r *wireRows) Close() {
	if r.closed {
		return
	}
	r.closed = true
	if r.put != nil {
		r.put(r.m)
		r.put = nil
	}
}

func (r *wireRows) Err() error { return r.err }

func (r *wireRows) CommandTag() pgconn.CommandTag { return pgconn.NewCommandTag(r.w.Tag) }

func (r *wireRows) FieldDescriptions() []pgconn.FieldDescription { return r.w.Fields }

func (r *wireRows) Next() bool {
	if r.closed {
		return false
	}
	if r.next < len(r.w.Rows) {
		r.next++
		return true
	}
	r.Close()
	return false
}

func (r *wireRows) current() [][]byte {
	if r.closed || r.next == 0 {
		return nil
	}
	return r.w.Rows[r.next-1]
}

func (r *wireRows) Scan(dest ...any) error {
	if len(dest) == 1 {
		if rc, ok := dest[0].(pgx.RowScanner); ok {
			return r.fatal(rc.ScanRow(r))
		}
	}
	raw := r.current()
	if raw == nil {
		return r.fatal(errors.New("cacheops: Scan called without a current row"))
	}
	return r.fatal(r.scanner.scan(r.m, r.w.Fields, raw, dest))
}

// fatal ends the rows with err, as pgx's rows do on a failed scan.
func (r *wireRows) fatal(err error) error {
	if err != nil {
		if r.err == nil {
			r.err = err
		}
		r.Close()
	}
	return err
}

func (r *wireRows) Values() ([]any, error) {
	if r.closed {
		return nil, errors.New("rows is closed")
	}
	vals, err := decodeValues(r.m, r.w.Fields, r.current())
	return vals, r.fatal(err)
}

func (r *wireRows) RawValues() [][]byte { return r.current() }

// Conn is nil for a replay: no connection ran it.
func (r *wireRows) Conn() *pgx.Conn { return nil }

func (r *wireRows) TypeMap() *pgtype.Map { return r.m }

// pgxCaptureRows serves a captured write's rows through pgx's interface:
// the caller sees its own columns; the hidden ones, last in each row, go to
// the capture log, which applies the write's effects when the rows end.
type pgxCaptureRows struct {
	pgx.Rows
	log     *captureLog
	visible int
	scanner rowScanner
}

func newPgxCaptureRows(rows pgx.Rows, log *captureLog) *pgxCaptureRows {
	return &pgxCaptureRows{Rows: rows, log: log, visible: len(rows.FieldDescriptions()) - len(log.capture.Cols)}
}

func (r *pgxCaptureRows) FieldDescriptions() []pgconn.FieldDescription {
	return r.Rows.FieldDescriptions()[:r.visible]
}

func (r *pgxCaptureRows) RawValues() [][]byte {
	if raw := r.Rows.RawValues(); len(raw) >= r.visible {
		return raw[:r.visible]
	}
	return nil
}

// read moves to the next row and logs its hidden values.
func (r *pgxCaptureRows) read() bool {
	if !r.Rows.Next() {
		return false
	}
	fds := r.Rows.FieldDescriptions()
	vals, err := decodeValues(r.Rows.Conn().TypeMap(), fds[r.visible:], r.Rows.RawValues()[r.visible:])
	if err != nil {
		r.log.over, r.log.rows = true, nil // a value that cannot be read: the write goes whole
	}
	hidden := make([]driver.Value, len(vals))
	for i, v := range vals {
		hidden[i] = v
	}
	r.log.add(hidden)
	return true
}

func (r *pgxCaptureRows) Next() bool {
	if r.log.done {
		return false
	}
	if r.read() {
		return true
	}
	r.Close() // pgx closes rows at their end: the statement has finished
	return false
}

func (r *pgxCaptureRows) Close() {
	if r.log.done {
		r.Rows.Close()
		return
	}
	for r.read() { // the rows not read yet were written too: read them for their keys
	}
	r.Rows.Close()
	r.log.finish(r.Rows.Err())
}

func (r *pgxCaptureRows) Scan(dest ...any) error {
	if len(dest) == 1 {
		if rc, ok := dest[0].(pgx.RowScanner); ok {
			return rc.ScanRow(r)
		}
	}
	return r.scanner.scan(r.Rows.Conn().TypeMap(), r.FieldDescriptions(), r.RawValues(), dest)
}

func (r *pgxCaptureRows) Values() ([]any, error) {
	return decodeValues(r.Rows.Conn().TypeMap(), r.FieldDescriptions(), r.RawValues())
}

// pgxHookRows calls done with the statement's outcome when its rows end or
// are closed, whichever comes first.
type pgxHookRows struct {
	pgx.Rows
	done func(error)
}

func (r *pgxHookRows) Next() bool {
	if r.Rows.Next() {
		return true
	}
	r.Close()
	return false
}

func (r *pgxHookRows) Close() {
	r.Rows.Close()
	if r.done != nil {
		r.done(r.Rows.Err())
		r.done = nil
	}
}

// errRows are the rows of a statement that failed before it ran.
type errRows struct{ err error }

func (errRows) Close()                                       {}
func (r errRows) Err() error                                 { return r.err }
func (errRows) CommandTag() pgconn.CommandTag                { return pgconn.CommandTag{} }
func (errRows) FieldDescriptions() []pgconn.FieldDescription { return nil }
func (errRows) Next() bool                                   { return false }
func (r errRows) Scan(...any) error                          { return r.err }
func (r errRows) Values() ([]any, error)                     { return nil, r.err }
func (errRows) RawValues() [][]byte                          { return nil }
func (errRows) Conn() *pgx.Conn                              { return nil }
func (errRows) TypeMap() *pgtype.Map                         { return nil }

// pgxRow is pgx's Row over rows: the first row, ErrNoRows when there is
// none, the rows closed after.
type pgxRow struct {
	rows pgx.Rows
	err  error
}

func (r *pgxRow) Scan(dest ...any) error {
	if r.err != nil {
		if r.rows != nil {
			r.rows.Close()
		}
		return r.err
	}
	rows := r.rows
	for _, d := range dest {
		if _, ok := d.(*pgtype.DriverBytes); ok {
			rows.Close()
			return errors.New("cannot scan into *pgtype.DriverBytes from QueryRow")
		}
	}
	if !rows.Next() {
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		return pgx.ErrNoRows
	}
	_ = rows.Scan(dest...)
	rows.Close()
	return rows.Err()
}
