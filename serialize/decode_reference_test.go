package serialize

// The msgpack-library decoder the in-place one replaced: kept as the
// reference the in-place decoder is checked against.

import (
	"bytes"
	"database/sql/driver"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/vmihailenco/msgpack/v5"
	"github.com/vmihailenco/msgpack/v5/msgpcode"
)

// decodeReference decodes a payload made by Encoder.Bytes.
func decodeReference(b []byte) (res *Result, err error) {
	defer func() {
		// The msgpack decoder is trusted not to panic, but the bytes come
		// from Redis: a panic here must never reach the caller.
		if r := recover(); r != nil {
			res, err = nil, fmt.Errorf("%w: %v", ErrCorrupt, r)
		}
	}()
	if len(b) == 0 || b[0] != format {
		return nil, ErrCorrupt
	}
	r := bytes.NewReader(b[1:])
	d := msgpack.NewDecoder(r)
	ncols, err := d.DecodeArrayLen()
	if err != nil || ncols < 0 || ncols > r.Len() {
		return nil, corruptRef(err)
	}
	res = &Result{Columns: make([]Column, ncols)}
	for i := range res.Columns {
		c := &res.Columns[i]
		var id, flags int64
		if c.Name, err = d.DecodeString(); err != nil {
			return nil, corruptRef(err)
		}
		if c.DatabaseTypeName, err = d.DecodeString(); err != nil {
			return nil, corruptRef(err)
		}
		for _, p := range []*int64{&id, &flags, &c.Length, &c.Precision, &c.Scale} {
			if *p, err = d.DecodeInt64(); err != nil {
				return nil, corruptRef(err)
			}
		}
		if id < 0 || id >= int64(len(scanTypes)) {
			return nil, ErrCorrupt
		}
		c.ScanType = scanTypes[id]
		c.HasLength, c.HasNullable, c.Nullable, c.HasDecimalSize = flags&1 != 0, flags&2 != 0, flags&4 != 0, flags&8 != 0
	}
	nrows, err := d.DecodeInt64()
	if err != nil || nrows < 0 || (ncols > 0 && nrows > int64(r.Len()/ncols)) || (ncols == 0 && nrows > 1<<20) {
		return nil, corruptRef(err)
	}
	res.Rows = make([][]driver.Value, nrows)
	cells := make([]driver.Value, int(nrows)*ncols) // one allocation for every row
	scratch := make([]byte, 17+255)
	for i := range res.Rows {
		row := cells[i*ncols : (i+1)*ncols : (i+1)*ncols]
		for j := range row {
			if row[j], err = decodeValueRef(d, scratch); err != nil {
				return nil, err
			}
		}
		res.Rows[i] = row
	}
	if r.Len() != 0 {
		return nil, ErrCorrupt
	}
	return res, nil
}

func corruptRef(err error) error {
	if err == nil {
		return ErrCorrupt
	}
	return fmt.Errorf("%w: %v", ErrCorrupt, err)
}

func decodeValueRef(d *msgpack.Decoder, scratch []byte) (driver.Value, error) {
	c, err := d.PeekCode()
	if err != nil {
		return nil, corruptRef(err)
	}
	var v driver.Value
	switch {
	case c == msgpcode.Nil:
		err = d.DecodeNil()
	case c == msgpcode.True || c == msgpcode.False:
		v, err = d.DecodeBool()
	case c == msgpcode.Double:
		v, err = d.DecodeFloat64()
	case msgpcode.IsFixedNum(c) || (c >= msgpcode.Uint8 && c <= msgpcode.Int64 && c != msgpcode.Float && c != msgpcode.Double):
		v, err = d.DecodeInt64()
	case msgpcode.IsString(c):
		v, err = d.DecodeString()
	case msgpcode.IsBin(c):
		var b []byte
		b, err = d.DecodeBytes()
		if b == nil && err == nil {
			b = []byte{}
		}
		v = b
	case msgpcode.IsExt(c):
		v, err = decodeExtRef(d, scratch)
	default:
		return nil, ErrCorrupt
	}
	if err != nil {
		return nil, corruptRef(err)
	}
	return v, nil
}

// decodeExt decodes an extension value; scratch holds its bytes (17+255 at
// least: one buffer for every time of a payload).
func decodeExtRef(d *msgpack.Decoder, scratch []byte) (driver.Value, error) {
	id, n, err := d.DecodeExtHeader()
	if err != nil {
		return nil, err
	}
	switch {
	case id == extNilBytes && n == 0:
		return []byte(nil), nil
	case id == extTime && n >= 17 && n < 17+256:
		b := scratch[:n]
		if err := d.ReadFull(b); err != nil {
			return nil, err
		}
		return decodeTimeRef(b)
	}
	return nil, ErrCorrupt
}

func decodeTimeRef(b []byte) (time.Time, error) {
	sec := int64(binary.BigEndian.Uint64(b[0:]))
	nsec := int64(binary.BigEndian.Uint32(b[8:]))
	offset := int(int32(binary.BigEndian.Uint32(b[12:])))
	if nsec >= 1e9 {
		return time.Time{}, ErrCorrupt
	}
	t := time.Unix(sec, nsec)
	switch b[16] {
	case locUTC:
		return t.UTC(), nil
	case locLocal:
		return t.In(time.Local), nil
	case locFixed:
		return t.In(time.FixedZone(string(b[17:]), offset)), nil
	case locNamed:
		loc, err := time.LoadLocation(string(b[17:]))
		if err != nil {
			return t.In(time.FixedZone(string(b[17:]), offset)), nil
		}
		return t.In(loc), nil
	}
	return time.Time{}, ErrCorrupt
}
