package serialize

import (
	"encoding/binary"
	"math"

	"github.com/jackc/pgx/v5/pgconn"
)

// wireFormat is the first byte of a Wire payload; Decode refuses it and
// DecodeWire refuses the other, so the two forms never read each other's
// entries.
const wireFormat byte = 2

// Wire is a result as pgx's own interface sees it: the field descriptions,
// every value exactly as PostgreSQL sent it (nil for NULL) in the format
// the field names, and the command tag. pgx decodes values only when they
// are scanned, with the connection's type map, so a replay scans into
// whatever a live result scans into.
type Wire struct {
	Fields []pgconn.FieldDescription
	Rows   [][][]byte
	Tag    string
}

// Size is roughly how many bytes Encode will produce.
func (w *Wire) Size() int {
	n := 16 + len(w.Tag)
	for _, f := range w.Fields {
		n += 24 + len(f.Name)
	}
	for _, row := range w.Rows {
		for _, v := range row {
			n += 2 + len(v)
		}
	}
	return n
}

// Encode returns the payload: format byte, fields, tag, row count, values
// (uvarint length+1, 0 for NULL).
func (w *Wire) Encode() []byte {
	b := make([]byte, 0, w.Size())
	b = append(b, wireFormat)
	b = binary.AppendUvarint(b, uint64(len(w.Fields)))
	for _, f := range w.Fields {
		b = appendString(b, f.Name)
		b = binary.AppendUvarint(b, uint64(f.TableOID))
		b = binary.AppendUvarint(b, uint64(f.TableAttributeNumber))
		b = binary.AppendUvarint(b, uint64(f.DataTypeOID))
		b = binary.AppendVarint(b, int64(f.DataTypeSize))
		b = binary.AppendVarint(b, int64(f.TypeModifier))
		b = binary.AppendVarint(b, int64(f.Format))
	}
	b = appendString(b, w.Tag)
	b = binary.AppendUvarint(b, uint64(len(w.Rows)))
	for _, row := range w.Rows {
		for _, v := range row {
			if v == nil {
				b = append(b, 0)
				continue
			}
			b = binary.AppendUvarint(b, uint64(len(v))+1)
			b = append(b, v...)
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// wireReader reads a Wire payload, failing on the first byte that does not
// fit: the bytes come from Redis.
type wireReader struct {
	b   []byte
	bad bool
}

func (r *wireReader) uvarint(limit uint64) uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 || v > limit {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *wireReader) varint(lo, hi int64) int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 || v < lo || v > hi {
		r.bad = true
		return 0
	}
	r.b = r.b[n:]
	return v
}

// bytes returns the next n bytes, capped so that an append by the caller
// copies instead of writing over the next value.
func (r *wireReader) bytes(n uint64) []byte {
	if r.bad || n > uint64(len(r.b)) {
		r.bad = true
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

// DecodeWire decodes a payload made by Wire.Encode. The values share b's
// memory.
func DecodeWire(b []byte) (*Wire, error) {
	if len(b) == 0 || b[0] != wireFormat {
		return nil, ErrCorrupt
	}
	r := &wireReader{b: b[1:]}
	// Every field takes at least 7 bytes, every value 1.
	nf := r.uvarint(uint64(len(r.b) / 7))
	w := &Wire{Fields: make([]pgconn.FieldDescription, nf)}
	for i := range w.Fields {
		f := &w.Fields[i]
		f.Name = string(r.bytes(r.uvarint(math.MaxInt32)))
		f.TableOID = uint32(r.uvarint(math.MaxUint32))
		f.TableAttributeNumber = uint16(r.uvarint(math.MaxUint16))
		f.DataTypeOID = uint32(r.uvarint(math.MaxUint32))
		f.DataTypeSize = int16(r.varint(math.MinInt16, math.MaxInt16))
		f.TypeModifier = int32(r.varint(math.MinInt32, math.MaxInt32))
		f.Format = int16(r.varint(0, 1))
	}
	w.Tag = string(r.bytes(r.uvarint(math.MaxInt32)))
	limit := uint64(1 << 20)
	if nf > 0 {
		limit = uint64(len(r.b)) / nf
	}
	nrows := r.uvarint(limit)
	if r.bad {
		return nil, ErrCorrupt
	}
	w.Rows = make([][][]byte, nrows)
	values := make([][]byte, nrows*nf) // one allocation for every row
	for i := range w.Rows {
		row := values[uint64(i)*nf : uint64(i+1)*nf : uint64(i+1)*nf]
		for j := range row {
			if n := r.uvarint(math.MaxInt32); n > 0 {
				row[j] = r.bytes(n - 1)
			}
		}
		w.Rows[i] = row
	}
	if r.bad || len(r.b) != 0 {
		return nil, ErrCorrupt
	}
	return w, nil
}
