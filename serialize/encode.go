package serialize

import (
	"bytes"
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/vmihailenco/msgpack/v5"
)

// format is the first byte of every payload; a payload of another format is
// not decoded.
const format byte = 1

// msgpack extension types used for values msgpack has no exact type for.
const (
	extTime     int8 = 1
	extNilBytes int8 = 2
)

// Encoder builds a payload row by row, so a result is encoded while it
// streams to the caller and never held twice.
type Encoder struct {
	cols  []Column
	rows  bytes.Buffer
	enc   *msgpack.Encoder
	n     int
	ncols int
}

// NewEncoder starts a payload with the given columns. It fails when a column
// reports a scan type that cannot be stored.
func NewEncoder(cols []Column) (*Encoder, error) {
	for _, c := range cols {
		if _, ok := scanTypeID(c.ScanType); !ok {
			return nil, fmt.Errorf("serialize: unsupported scan type %v", c.ScanType)
		}
	}
	e := &Encoder{cols: cols, ncols: len(cols)}
	e.enc = msgpack.NewEncoder(&e.rows)
	e.enc.UseCompactInts(true)
	return e, nil
}

// Rows is how many rows were added.
func (e *Encoder) Rows() int { return e.n }

// Size is the encoded size so far.
func (e *Encoder) Size() int { return e.rows.Len() }

// AddRow appends one row. Values must be of the types database/sql drivers
// return (driver.IsValue), else AddRow fails and the result is not cached.
func (e *Encoder) AddRow(row []driver.Value) error {
	if len(row) != e.ncols {
		return fmt.Errorf("serialize: row has %d values, want %d", len(row), e.ncols)
	}
	for _, v := range row {
		if err := e.value(v); err != nil {
			return err
		}
	}
	e.n++
	return nil
}

func (e *Encoder) value(v driver.Value) error {
	switch x := v.(type) {
	case nil:
		return e.enc.EncodeNil()
	case int64:
		return e.enc.EncodeInt(x)
	case float64:
		return e.enc.EncodeFloat64(x)
	case bool:
		return e.enc.EncodeBool(x)
	case string:
		return e.enc.EncodeString(x)
	case []byte:
		if x == nil {
			return e.enc.EncodeExtHeader(extNilBytes, 0)
		}
		return e.enc.EncodeBytes(x)
	case time.Time:
		return e.time(x)
	}
	return fmt.Errorf("serialize: unsupported value type %T", v)
}

// time stores the instant (seconds, nanoseconds), the UTC offset, how the
// location is to be rebuilt and the zone or location name.
func (e *Encoder) time(t time.Time) error {
	kind, name := byte(locFixed), ""
	zone, offset := t.Zone()
	switch loc := t.Location(); {
	case loc == time.UTC:
		kind = locUTC
	case loc == time.Local:
		kind = locLocal
	case loc.String() != zone && loc.String() != "":
		kind, name = locNamed, loc.String()
	default:
		name = zone
	}
	var b [8 + 4 + 4 + 1]byte
	binary.BigEndian.PutUint64(b[0:], uint64(t.Unix()))
	binary.BigEndian.PutUint32(b[8:], uint32(t.Nanosecond()))
	binary.BigEndian.PutUint32(b[12:], uint32(int32(offset)))
	b[16] = kind
	if err := e.enc.EncodeExtHeader(extTime, len(b)+len(name)); err != nil {
		return err
	}
	w := e.enc.Writer()
	if _, err := w.Write(b[:]); err != nil {
		return err
	}
	_, err := w.Write([]byte(name))
	return err
}

const (
	locUTC byte = iota
	locLocal
	locFixed
	locNamed
)

// Bytes returns the finished payload: format byte, column header, row count,
// rows.
func (e *Encoder) Bytes() ([]byte, error) {
	var head bytes.Buffer
	head.WriteByte(format)
	h := msgpack.NewEncoder(&head)
	h.UseCompactInts(true)
	if err := h.EncodeArrayLen(len(e.cols)); err != nil {
		return nil, err
	}
	for _, c := range e.cols {
		id, _ := scanTypeID(c.ScanType)
		var flags int64
		if c.HasLength {
			flags |= 1
		}
		if c.HasNullable {
			flags |= 2
		}
		if c.Nullable {
			flags |= 4
		}
		if c.HasDecimalSize {
			flags |= 8
		}
		for _, err := range []error{
			h.EncodeString(c.Name), h.EncodeString(c.DatabaseTypeName), h.EncodeInt(int64(id)),
			h.EncodeInt(flags), h.EncodeInt(c.Length), h.EncodeInt(c.Precision), h.EncodeInt(c.Scale),
		} {
			if err != nil {
				return nil, err
			}
		}
	}
	if err := h.EncodeInt(int64(e.n)); err != nil {
		return nil, err
	}
	out := make([]byte, 0, head.Len()+e.rows.Len())
	return append(append(out, head.Bytes()...), e.rows.Bytes()...), nil
}
