package keys

import (
	"crypto/sha256"
	"database/sql/driver"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"math"
	"reflect"
	"sort"
	"sync"
	"time"
)

// EntryKey returns the Redis key of a cached result: the prefix and a hash of
// the namespace, the SQL text and a canonical, type-tagged encoding of every
// argument. ok is false when an argument cannot be keyed deterministically
// (or names a relative time such as 'today'): such a call is not cached.
//
// Arguments of different Go types get different keys even when PostgreSQL
// would treat them alike: that costs a hit, never correctness.
func EntryKey(prefix, namespace, sql string, args []driver.NamedValue) (key string, ok bool) {
	h := hashers.Get().(*entryHasher)
	defer hashers.Put(h)
	h.reset()
	if !h.material(namespace, sql, args) {
		return "", false
	}
	h.h.Write(h.buf)
	return h.key(prefix), true
}

// EntryMaterial appends to buf what EntryKey hashes: an exact, canonical
// encoding of the namespace, the text and the arguments (ok false as
// EntryKey's). Equal materials are equal calls: a process may key results
// by it without hashing (the local layer does).
func EntryMaterial(buf []byte, namespace, sql string, args []driver.NamedValue) ([]byte, bool) {
	h := &entryHasher{buf: buf}
	ok := h.material(namespace, sql, args)
	return h.buf, ok
}

// EntryKeyOf is EntryKey of a call whose EntryMaterial is m.
func EntryKeyOf(prefix string, m []byte) string {
	h := hashers.Get().(*entryHasher)
	defer hashers.Put(h)
	h.reset()
	h.h.Write(m)
	return h.key(prefix)
}

func (h *entryHasher) material(namespace, sql string, args []driver.NamedValue) bool {
	h.str(namespace)
	h.str(sql)
	for _, a := range args {
		h.buf = binary.AppendUvarint(h.buf, uint64(a.Ordinal))
		if !h.value(reflect.ValueOf(a.Value), 0) {
			return false
		}
	}
	return true
}

func (h *entryHasher) key(prefix string) string {
	var sum [sha256.Size]byte
	h.h.Sum(sum[:0])
	out := make([]byte, 0, len(prefix)+2+32)
	out = append(append(out, prefix...), "e:"...)
	return string(hex.AppendEncode(out, sum[:16]))
}

// entryHasher encodes a call's material into buf; with a hash, it hashes
// buf as it grows (without, buf keeps it all).
type entryHasher struct {
	h   hash.Hash
	buf []byte
}

var hashers = sync.Pool{New: func() any { return &entryHasher{h: sha256.New()} }}

func (h *entryHasher) reset() {
	h.h.Reset()
	h.buf = h.buf[:0]
}

func (h *entryHasher) flush() {
	if h.h != nil && len(h.buf) > 4096 {
		h.h.Write(h.buf)
		h.buf = h.buf[:0]
	}
}

func (h *entryHasher) str(s string) {
	h.buf = binary.AppendUvarint(h.buf, uint64(len(s)))
	h.buf = append(h.buf, s...)
	h.flush()
}

func (h *entryHasher) tag(t reflect.Type) {
	// The Go type is part of the key: pgx picks an encoding by type.
	h.str(t.PkgPath())
	h.str(t.String())
}

var (
	timeType   = reflect.TypeFor[time.Time]()
	valuerType = reflect.TypeFor[driver.Valuer]()
)

const maxDepth = 8

func (h *entryHasher) value(v reflect.Value, depth int) bool {
	if depth > maxDepth {
		return false
	}
	if !v.IsValid() {
		h.buf = append(h.buf, 'n')
		return true
	}
	t := v.Type()
	h.tag(t)
	switch {
	case t == timeType:
		tm := v.Interface().(time.Time)
		name, offset := tm.Zone()
		h.buf = binary.AppendVarint(h.buf, tm.Unix())
		h.buf = binary.AppendVarint(h.buf, int64(tm.Nanosecond()))
		h.buf = binary.AppendVarint(h.buf, int64(offset))
		h.str(name)
		h.str(tm.Location().String())
		return true
	case t.Implements(valuerType) && (t.Kind() != reflect.Pointer || !v.IsNil()):
		return h.valuer(v, depth)
	}
	switch t.Kind() {
	case reflect.Bool:
		if v.Bool() {
			h.buf = append(h.buf, 1)
		} else {
			h.buf = append(h.buf, 0)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		h.buf = binary.AppendVarint(h.buf, v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		h.buf = binary.AppendUvarint(h.buf, v.Uint())
	case reflect.Float32, reflect.Float64:
		h.buf = binary.BigEndian.AppendUint64(h.buf, math.Float64bits(v.Float()))
	case reflect.String:
		s := v.String()
		if IsRelativeTimeLiteral(s) {
			return false
		}
		h.str(s)
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			h.buf = append(h.buf, 'n')
			return true
		}
		h.buf = append(h.buf, 'p')
		return h.value(v.Elem(), depth+1)
	case reflect.Slice:
		if v.IsNil() {
			h.buf = append(h.buf, 'n')
			return true
		}
		if t.Elem().Kind() == reflect.Uint8 {
			b := v.Bytes()
			if IsRelativeTimeLiteral(string(b)) {
				return false
			}
			h.buf = append(h.buf, 'b')
			h.str(string(b))
			return true
		}
		fallthrough
	case reflect.Array:
		h.buf = binary.AppendUvarint(h.buf, uint64(v.Len()))
		for i := 0; i < v.Len(); i++ {
			if !h.value(v.Index(i), depth+1) {
				return false
			}
		}
	case reflect.Map:
		return h.mapValue(v, depth)
	default:
		// Structs without driver.Valuer, channels, funcs: pgx may encode
		// them in ways this hash cannot see, so they are not cached.
		return false
	}
	h.flush()
	return true
}

func (h *entryHasher) valuer(v reflect.Value, depth int) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false // a Valuer that panics on a nil receiver, say
		}
	}()
	dv, err := v.Interface().(driver.Valuer).Value()
	if err != nil {
		return false
	}
	h.buf = append(h.buf, 'v')
	if dv != nil && reflect.TypeOf(dv).Implements(valuerType) {
		return false // would recurse forever
	}
	return h.value(reflect.ValueOf(dv), depth+1)
}

func (h *entryHasher) mapValue(v reflect.Value, depth int) bool {
	if v.IsNil() {
		h.buf = append(h.buf, 'n')
		return true
	}
	if v.Type().Key().Kind() != reflect.String {
		return false
	}
	keys := v.MapKeys()
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	h.buf = binary.AppendUvarint(h.buf, uint64(len(keys)))
	for _, k := range keys {
		h.str(k.String())
		if !h.value(v.MapIndex(k), depth+1) {
			return false
		}
	}
	return true
}
