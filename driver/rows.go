package driver

import (
	"database/sql/driver"
	"io"
	"reflect"

	"github.com/cacheops/cacheops/serialize"
)

var (
	_ driver.RowsColumnTypeScanType         = (*forwardRows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*forwardRows)(nil)
	_ driver.RowsColumnTypeLength           = (*forwardRows)(nil)
	_ driver.RowsColumnTypeNullable         = (*forwardRows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*forwardRows)(nil)
	_ driver.RowsNextResultSet              = (*forwardRows)(nil)

	_ driver.RowsColumnTypeScanType         = (*replayRows)(nil)
	_ driver.RowsColumnTypeDatabaseTypeName = (*replayRows)(nil)
	_ driver.RowsColumnTypeLength           = (*replayRows)(nil)
	_ driver.RowsColumnTypeNullable         = (*replayRows)(nil)
	_ driver.RowsColumnTypePrecisionScale   = (*replayRows)(nil)
)

// forwardRows wraps a driver's rows and answers every optional question the
// way database/sql would have answered it for the wrapped rows: by asking
// them, or with database/sql's own default when they do not implement it.
type forwardRows struct {
	driver.Rows
}

func (r forwardRows) ColumnTypeScanType(i int) reflect.Type {
	if x, ok := r.Rows.(driver.RowsColumnTypeScanType); ok {
		return x.ColumnTypeScanType(i)
	}
	return reflect.TypeFor[any]()
}

func (r forwardRows) ColumnTypeDatabaseTypeName(i int) string {
	if x, ok := r.Rows.(driver.RowsColumnTypeDatabaseTypeName); ok {
		return x.ColumnTypeDatabaseTypeName(i)
	}
	return ""
}

func (r forwardRows) ColumnTypeLength(i int) (int64, bool) {
	if x, ok := r.Rows.(driver.RowsColumnTypeLength); ok {
		return x.ColumnTypeLength(i)
	}
	return 0, false
}

func (r forwardRows) ColumnTypeNullable(i int) (bool, bool) {
	if x, ok := r.Rows.(driver.RowsColumnTypeNullable); ok {
		return x.ColumnTypeNullable(i)
	}
	return false, false
}

func (r forwardRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	if x, ok := r.Rows.(driver.RowsColumnTypePrecisionScale); ok {
		return x.ColumnTypePrecisionScale(i)
	}
	return 0, 0, false
}

func (r forwardRows) HasNextResultSet() bool {
	if x, ok := r.Rows.(driver.RowsNextResultSet); ok {
		return x.HasNextResultSet()
	}
	return false
}

func (r forwardRows) NextResultSet() error {
	if x, ok := r.Rows.(driver.RowsNextResultSet); ok {
		return x.NextResultSet()
	}
	return io.EOF
}

// columns records what database/sql could learn about every column.
func (r forwardRows) columns() []serialize.Column {
	names := r.Columns()
	cols := make([]serialize.Column, len(names))
	for i, n := range names {
		c := &cols[i]
		c.Name = n
		c.ScanType = r.ColumnTypeScanType(i)
		c.DatabaseTypeName = r.ColumnTypeDatabaseTypeName(i)
		c.Length, c.HasLength = r.ColumnTypeLength(i)
		c.Nullable, c.HasNullable = r.ColumnTypeNullable(i)
		c.Precision, c.Scale, c.HasDecimalSize = r.ColumnTypePrecisionScale(i)
	}
	return cols
}

// hookRows runs done once, when the rows are closed: a statement run through
// Query has finished (and in autocommit, committed) only then.
type hookRows struct {
	forwardRows
	done func(error)
}

func (r *hookRows) Close() error {
	err := r.Rows.Close()
	if r.done != nil {
		r.done(err)
		r.done = nil
	}
	return err
}

// replayRows serves a cached (or shared) result.
type replayRows struct {
	res   *serialize.Result
	names []string
	next  int
}

func newReplayRows(res *serialize.Result) *replayRows {
	names := make([]string, len(res.Columns))
	for i, c := range res.Columns {
		names[i] = c.Name
	}
	return &replayRows{res: res, names: names}
}

func (r *replayRows) Columns() []string { return r.names }
func (r *replayRows) Close() error      { return nil }

func (r *replayRows) Next(dest []driver.Value) error {
	if r.next >= len(r.res.Rows) {
		return io.EOF
	}
	copy(dest, r.res.Rows[r.next])
	r.next++
	return nil
}

func (r *replayRows) ColumnTypeScanType(i int) reflect.Type {
	if t := r.res.Columns[i].ScanType; t != nil {
		return t
	}
	return reflect.TypeFor[any]()
}

func (r *replayRows) ColumnTypeDatabaseTypeName(i int) string {
	return r.res.Columns[i].DatabaseTypeName
}

func (r *replayRows) ColumnTypeLength(i int) (int64, bool) {
	c := r.res.Columns[i]
	return c.Length, c.HasLength
}

func (r *replayRows) ColumnTypeNullable(i int) (bool, bool) {
	c := r.res.Columns[i]
	return c.Nullable, c.HasNullable
}

func (r *replayRows) ColumnTypePrecisionScale(i int) (int64, int64, bool) {
	c := r.res.Columns[i]
	return c.Precision, c.Scale, c.HasDecimalSize
}
