package serialize

import (
	"database/sql/driver"
	"errors"
	"fmt"
	"math"
	"time"
	"unsafe"
)

// ErrCorrupt is returned for a payload that is not a valid encoded result.
var ErrCorrupt = errors.New("serialize: corrupt payload")

// Result is a decoded payload.
type Result struct {
	Columns []Column
	Rows    [][]driver.Value
}

// Decode decodes a payload made by Encoder.Bytes. It reads the msgpack the
// Encoder writes in place: the payload is copied once into a string and every
// text value is a slice of it, so a hit allocates per row only what a
// driver.Value must box.
func Decode(b []byte) (*Result, error) { return decode(string(b)) }

// DecodeOwned is Decode without the copy, for a payload the caller hands
// over: the text values are slices of b, so b must never be written again
// (a hit's payload, freshly read from Redis, is read once and dropped).
func DecodeOwned(b []byte) (*Result, error) {
	if len(b) == 0 {
		return nil, ErrCorrupt
	}
	return decode(unsafe.String(&b[0], len(b)))
}

func decode(b string) (res *Result, err error) {
	defer func() {
		// The bytes come from Redis: nothing in them may panic the caller.
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	if len(b) == 0 || b[0] != format {
		return nil, ErrCorrupt
	}
	r := &reader{s: b, pos: 1}
	r.slab.n = 16
	ncols, err := r.arrayLen()
	if err != nil || ncols > r.left() {
		return nil, ErrCorrupt
	}
	res = &Result{Columns: make([]Column, ncols)}
	for i := range res.Columns {
		c := &res.Columns[i]
		if c.Name, err = r.str(); err != nil {
			return nil, err
		}
		if c.DatabaseTypeName, err = r.str(); err != nil {
			return nil, err
		}
		var id, flags int64
		for _, p := range []*int64{&id, &flags, &c.Length, &c.Precision, &c.Scale} {
			if *p, err = r.int(); err != nil {
				return nil, err
			}
		}
		if id < 0 || id >= int64(len(scanTypes)) {
			return nil, ErrCorrupt
		}
		c.ScanType = scanTypes[id]
		c.HasLength, c.HasNullable, c.Nullable, c.HasDecimalSize = flags&1 != 0, flags&2 != 0, flags&4 != 0, flags&8 != 0
	}
	nrows, err := r.int()
	if err != nil || nrows < 0 || (ncols > 0 && nrows > int64(r.left()/ncols)) || (ncols == 0 && nrows > 1<<20) {
		return nil, ErrCorrupt
	}
	res.Rows = make([][]driver.Value, nrows)
	cells := make([]driver.Value, int(nrows)*ncols) // one allocation for every row
	r.slab.n = int(nrows)
	for i := range res.Rows {
		row := cells[i*ncols : (i+1)*ncols : (i+1)*ncols]
		for j := range row {
			if row[j], err = r.value(); err != nil {
				return nil, err
			}
		}
		res.Rows[i] = row
	}
	if r.left() != 0 {
		return nil, ErrCorrupt
	}
	return res, nil
}

// reader reads msgpack from a string, in place, boxing values into slab.
type reader struct {
	s    string
	pos  int
	slab slab
}

func (r *reader) left() int { return len(r.s) - r.pos }

// take returns the next n bytes.
func (r *reader) take(n int) (string, error) {
	if n < 0 || n > r.left() {
		return "", ErrCorrupt
	}
	out := r.s[r.pos : r.pos+n]
	r.pos += n
	return out, nil
}

func (r *reader) byte() (byte, error) {
	if r.left() < 1 {
		return 0, ErrCorrupt
	}
	c := r.s[r.pos]
	r.pos++
	return c, nil
}

// uint reads an n-byte big-endian unsigned integer.
func (r *reader) uint(n int) (uint64, error) {
	b, err := r.take(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := 0; i < n; i++ {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

// intOf reads the integer that code c starts; ok false when c is no integer.
func (r *reader) intOf(c byte) (v int64, ok bool, err error) {
	switch {
	case c <= 0x7f: // positive fixint
		return int64(c), true, nil
	case c >= 0xe0: // negative fixint
		return int64(int8(c)), true, nil
	case c >= 0xcc && c <= 0xcf: // uint 8..64
		u, err := r.uint(1 << (c - 0xcc))
		if err == nil && u > math.MaxInt64 {
			err = ErrCorrupt // the Encoder writes int64s only
		}
		return int64(u), true, err
	case c >= 0xd0 && c <= 0xd3: // int 8..64
		n := 1 << (c - 0xd0)
		u, err := r.uint(n)
		shift := 64 - 8*n
		return int64(u<<shift) >> shift, true, err
	}
	return 0, false, nil
}

func (r *reader) int() (int64, error) {
	c, err := r.byte()
	if err != nil {
		return 0, err
	}
	v, ok, err := r.intOf(c)
	if !ok {
		return 0, ErrCorrupt
	}
	return v, err
}

// strOf reads the string that code c starts; ok false when c is no string.
func (r *reader) strOf(c byte) (s string, ok bool, err error) {
	var n uint64
	switch {
	case c >= 0xa0 && c <= 0xbf:
		n = uint64(c & 0x1f)
	case c >= 0xd9 && c <= 0xdb:
		if n, err = r.uint(1 << (c - 0xd9)); err != nil {
			return "", true, err
		}
	default:
		return "", false, nil
	}
	if n > uint64(r.left()) {
		return "", true, ErrCorrupt
	}
	s, err = r.take(int(n))
	return s, true, err
}

func (r *reader) str() (string, error) {
	c, err := r.byte()
	if err != nil {
		return "", err
	}
	s, ok, err := r.strOf(c)
	if !ok {
		return "", ErrCorrupt
	}
	return s, err
}

func (r *reader) arrayLen() (int, error) {
	c, err := r.byte()
	if err != nil {
		return 0, err
	}
	var n uint64
	switch {
	case c >= 0x90 && c <= 0x9f:
		n = uint64(c & 0x0f)
	case c == 0xdc || c == 0xdd:
		if n, err = r.uint(2 << (c - 0xdc)); err != nil {
			return 0, err
		}
	default:
		return 0, ErrCorrupt
	}
	if n > uint64(r.left()) {
		return 0, ErrCorrupt
	}
	return int(n), nil
}

// value reads one cell as the Encoder wrote it.
func (r *reader) value() (driver.Value, error) {
	c, err := r.byte()
	if err != nil {
		return nil, err
	}
	if v, ok, err := r.intOf(c); ok {
		return r.slab.int(v), err
	}
	if s, ok, err := r.strOf(c); ok {
		return r.slab.str(s), err
	}
	switch {
	case c == 0xc0:
		return nil, nil
	case c == 0xc2:
		return false, nil
	case c == 0xc3:
		return true, nil
	case c == 0xcb:
		u, err := r.uint(8)
		return r.slab.float(math.Float64frombits(u)), err
	case c >= 0xc4 && c <= 0xc6: // bin 8..32
		n, err := r.uint(1 << (c - 0xc4))
		if err != nil || n > uint64(r.left()) {
			return nil, ErrCorrupt
		}
		b, _ := r.take(int(n))
		return []byte(b), nil // never nil: a nil []byte has its own extension
	case c >= 0xd4 && c <= 0xd8: // fixext 1..16
		return r.ext(1 << (c - 0xd4))
	case c >= 0xc7 && c <= 0xc9: // ext 8..32
		n, err := r.uint(1 << (c - 0xc7))
		if err != nil || n > uint64(r.left()) {
			return nil, ErrCorrupt
		}
		return r.ext(int(n))
	}
	return nil, ErrCorrupt
}

// ext reads an extension value of n bytes (after its type).
func (r *reader) ext(n int) (driver.Value, error) {
	id, err := r.byte()
	if err != nil {
		return nil, err
	}
	b, err := r.take(n)
	if err != nil {
		return nil, err
	}
	switch {
	case int8(id) == extNilBytes && n == 0:
		return []byte(nil), nil
	case int8(id) == extTime && n >= 17 && n < 17+256:
		t, err := decodeTime(b)
		return r.slab.time(t), err
	}
	return nil, ErrCorrupt
}

func decodeTime(b string) (time.Time, error) {
	be := func(s string) uint64 {
		var v uint64
		for i := 0; i < len(s); i++ {
			v = v<<8 | uint64(s[i])
		}
		return v
	}
	sec := int64(be(b[0:8]))
	nsec := int64(be(b[8:12]))
	offset := int(int32(uint32(be(b[12:16]))))
	if nsec >= 1e9 {
		return time.Time{}, ErrCorrupt
	}
	t := time.Unix(sec, nsec)
	switch name := b[17:]; b[16] {
	case locUTC:
		return t.UTC(), nil
	case locLocal:
		return t.In(time.Local), nil
	case locFixed:
		return t.In(time.FixedZone(name, offset)), nil
	case locNamed:
		loc, err := time.LoadLocation(name)
		if err != nil {
			return t.In(time.FixedZone(name, offset)), nil
		}
		return t.In(loc), nil
	}
	return time.Time{}, ErrCorrupt
}
