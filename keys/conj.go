package keys

import (
	"crypto/sha256"
	"database/sql/driver"
	"encoding/hex"
	"reflect"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/cacheops/cacheops/catalog"
)

// Term is one column's value in a conjunction: fixed (a literal, already
// canonical) or taken from an argument when the statement runs.
type Term struct {
	Col   string
	Kind  catalog.ValueKind
	Value string // canonical, when Param is 0
	Param int    // 1-based argument number
	Any   bool   // the argument is an array: one conjunction per element
	// MaxLen: a written value longer than this many characters is not what
	// the column stores (varchar(n) trims trailing spaces): dropped.
	MaxLen int
}

// Conj is a conjunction template on one relation; no terms means "any row".
type Conj struct {
	Rel   string
	Terms []Term // sorted by column
}

// ConjInstance is a conjunction with its values: the rows of Rel whose
// columns Scheme hold Values.
type ConjInstance struct {
	Rel    string
	Scheme string // columns joined by NUL, sorted; "" for any row
	Values []string
}

// SchemeOf joins sorted column names into a scheme.
func SchemeOf(cols []string) string { return strings.Join(cols, "\x00") }

// SchemeColumns splits a scheme back into its columns.
func SchemeColumns(scheme string) []string {
	if scheme == "" {
		return nil
	}
	return strings.Split(scheme, "\x00")
}

// ConjID is the stable name of a conjunction within its relation: a hash of
// its scheme and values, so that any text value makes a short, safe key. The
// reader and the writer both name stamps through it.
func ConjID(scheme string, values []string) string {
	var buf [32]byte
	return string(AppendConjID(buf[:0], scheme, values))
}

// AppendConjID appends ConjID's text to dst, hashing on the stack: it is on
// every read's path.
func AppendConjID(dst []byte, scheme string, values []string) []byte {
	var in [256]byte
	b := append(in[:0], scheme...)
	for _, v := range values {
		b = append(append(b, 1), v...)
	}
	sum := sha256.Sum256(b)
	return hex.AppendEncode(dst, sum[:16])
}

// Instantiate fills conjunction templates with the call's arguments. A term
// whose argument has no canonical form is dropped (the conjunction grows
// broader); a conjunction that asks one column for two different values
// matches no row and is left out. It runs on every read: assignments are
// short slices kept sorted by column, never changed once made (so equal
// ones share memory), not maps.
func Instantiate(conjs []Conj, args []driver.NamedValue, maxIn int) []ConjInstance {
	var out []ConjInstance
	for _, c := range conjs {
		partial := [][]colValue{nil}
		for _, t := range c.Terms {
			vals := termValues(t, args, maxIn)
			if vals == nil {
				continue // dropped
			}
			next := make([][]colValue, 0, len(partial)*len(vals))
			for _, p := range partial {
				i := sort.Search(len(p), func(i int) bool { return p[i].col >= t.Col })
				has := i < len(p) && p[i].col == t.Col
				for _, v := range vals {
					switch {
					case has && p[i].value != v:
						continue // contradiction: matches nothing
					case has:
						next = append(next, p)
						continue
					}
					q := make([]colValue, 0, len(p)+1)
					q = append(append(append(q, p[:i]...), colValue{t.Col, v}), p[i:]...)
					next = append(next, q)
				}
			}
			partial = next
		}
		for _, p := range partial {
			out = append(out, instance(c.Rel, p))
		}
	}
	return out
}

// colValue is one column's value in an assignment.
type colValue struct{ col, value string }

func termValues(t Term, args []driver.NamedValue, maxIn int) []string {
	if t.Param == 0 {
		return []string{t.Value}
	}
	var arg any
	found := false
	for _, a := range args {
		if a.Ordinal == t.Param {
			arg, found = a.Value, true
		}
	}
	if !found {
		return nil
	}
	if !t.Any {
		if v, ok := Canonical(t.Kind, arg); ok && v != Null && (t.MaxLen <= 0 || utf8.RuneCountInString(v) <= t.MaxLen) {
			return []string{v}
		}
		return nil // col = NULL matches nothing; drop rather than reason about it
	}
	arg, ok := deref(arg)
	rv := reflect.ValueOf(arg)
	if !ok || arg == nil || (rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array) || rv.Len() == 0 || rv.Len() > maxIn {
		return nil
	}
	if _, isBytes := arg.([]byte); isBytes {
		return nil
	}
	vals := make([]string, 0, rv.Len())
	for i := 0; i < rv.Len(); i++ {
		v, ok := Canonical(t.Kind, rv.Index(i).Interface())
		if !ok {
			return nil
		}
		vals = append(vals, v)
	}
	return vals
}

func instance(rel string, p []colValue) ConjInstance {
	cols := make([]string, len(p))
	vals := make([]string, len(p))
	for i, cv := range p {
		cols[i], vals[i] = cv.col, cv.value
	}
	return ConjInstance{Rel: rel, Scheme: SchemeOf(cols), Values: vals}
}
