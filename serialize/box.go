package serialize

import (
	"database/sql/driver"
	"time"
	"unsafe"
)

// A driver.Value holding an int64, a float64, a string or a time.Time
// points at a copy of the value, allocated when it is boxed: one allocation
// per cell, which was most of a hit's decoding time. slab instead keeps the
// values of one payload in a few slices and boxes pointers into them. A
// boxed value is never written again (interfaces are immutable) and keeps
// its slice alive; a slice that grows leaves the older array to the values
// that point into it.

// eface is the layout of an empty interface: its type, then a pointer to
// its value (for these types, which are not pointer-shaped).
type eface struct {
	typ, data unsafe.Pointer
}

func typeOf(v any) unsafe.Pointer { return (*eface)(unsafe.Pointer(&v)).typ }

var (
	int64Type   = typeOf(int64(0))
	float64Type = typeOf(float64(0))
	stringType  = typeOf("")
	timeType    = typeOf(time.Time{})
)

// boxed returns the interface of type typ whose value is at p.
func boxed(typ, p unsafe.Pointer) (v driver.Value) {
	e := (*eface)(unsafe.Pointer(&v))
	e.typ, e.data = typ, p
	return v
}

// slab holds one payload's values; n sizes its slices at first use.
type slab struct {
	n      int
	ints   []int64
	floats []float64
	strs   []string
	times  []time.Time
}

func grow[T any](s []T, n int) []T {
	if len(s) == cap(s) {
		return make([]T, 0, max(n, 2*cap(s)))
	}
	return s
}

func (s *slab) int(v int64) driver.Value {
	if v >= 0 && v < 256 {
		return v // the runtime boxes these without allocating
	}
	s.ints = append(grow(s.ints, s.n), v)
	return boxed(int64Type, unsafe.Pointer(&s.ints[len(s.ints)-1]))
}

func (s *slab) float(v float64) driver.Value {
	s.floats = append(grow(s.floats, s.n), v)
	return boxed(float64Type, unsafe.Pointer(&s.floats[len(s.floats)-1]))
}

func (s *slab) str(v string) driver.Value {
	s.strs = append(grow(s.strs, s.n), v)
	return boxed(stringType, unsafe.Pointer(&s.strs[len(s.strs)-1]))
}

func (s *slab) time(v time.Time) driver.Value {
	s.times = append(grow(s.times, s.n), v)
	return boxed(timeType, unsafe.Pointer(&s.times[len(s.times)-1]))
}
