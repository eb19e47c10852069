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
	h := sha256.New()
	h.Write([]byte(scheme))
	for _, v := range values {
		h.Write([]byte{1})
		h.Write([]byte(v))
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Instantiate fills conjunction templates with the call's arguments. A term
// whose argument has no canonical form is dropped (the conjunction grows
// broader); a conjunction that asks one column for two different values
// matches no row and is left out.
func Instantiate(conjs []Conj, args []driver.NamedValue, maxIn int) []ConjInstance {
	var out []ConjInstance
	for _, c := range conjs {
		partial := []map[string]string{{}}
		for _, t := range c.Terms {
			vals := termValues(t, args, maxIn)
			if vals == nil {
				continue // dropped
			}
			var next []map[string]string
			for _, p := range partial {
				for _, v := range vals {
					if old, ok := p[t.Col]; ok && old != v {
						continue // contradiction: matches nothing
					}
					q := make(map[string]string, len(p)+1)
					for k, x := range p {
						q[k] = x
					}
					q[t.Col] = v
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

func instance(rel string, p map[string]string) ConjInstance {
	cols := make([]string, 0, len(p))
	for c := range p {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	vals := make([]string, len(cols))
	for i, c := range cols {
		vals[i] = p[c]
	}
	return ConjInstance{Rel: rel, Scheme: SchemeOf(cols), Values: vals}
}
