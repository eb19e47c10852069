package keys

import (
	"database/sql/driver"
	"reflect"
	"sort"
	"testing"

	"pgregory.net/rapid"

	"github.com/cacheops/cacheops/catalog"
)

// instantiateWithMaps is Instantiate as it was first written, with a map
// per assignment: the reference the faster one must equal.
func instantiateWithMaps(conjs []Conj, args []driver.NamedValue, maxIn int) []ConjInstance {
	var out []ConjInstance
	for _, c := range conjs {
		partial := []map[string]string{{}}
		for _, t := range c.Terms {
			vals := termValues(t, args, maxIn)
			if vals == nil {
				continue
			}
			var next []map[string]string
			for _, p := range partial {
				for _, v := range vals {
					if old, ok := p[t.Col]; ok && old != v {
						continue
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
			cols := make([]string, 0, len(p))
			for c := range p {
				cols = append(cols, c)
			}
			sort.Strings(cols)
			vals := make([]string, len(cols))
			for i, c := range cols {
				vals[i] = p[c]
			}
			out = append(out, ConjInstance{Rel: c.Rel, Scheme: SchemeOf(cols), Values: vals})
		}
	}
	return out
}

func TestInstantiateEqualsTheMapVersion(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cols := []string{"a", "b", "c"}
		args := []driver.NamedValue{
			{Ordinal: 1, Value: rapid.IntRange(0, 3).Draw(t, "p1")},
			{Ordinal: 2, Value: rapid.SliceOfN(rapid.IntRange(0, 3), 0, 4).Draw(t, "p2")},
			{Ordinal: 3, Value: nil},
		}
		var conjs []Conj
		for n := rapid.IntRange(0, 3).Draw(t, "conjs"); n > 0; n-- {
			c := Conj{Rel: rapid.SampledFrom([]string{"r", "s"}).Draw(t, "rel")}
			for m := rapid.IntRange(0, 4).Draw(t, "terms"); m > 0; m-- {
				term := Term{Col: rapid.SampledFrom(cols).Draw(t, "col"), Kind: catalog.IntKind}
				switch rapid.IntRange(0, 3).Draw(t, "kind") {
				case 0:
					term.Value = rapid.SampledFrom([]string{"0", "1", "2"}).Draw(t, "value")
				case 1:
					term.Param = 1
				case 2:
					term.Param, term.Any = 2, true
				case 3:
					term.Param = 3 // NULL: dropped
				}
				c.Terms = append(c.Terms, term)
			}
			sort.SliceStable(c.Terms, func(i, j int) bool { return c.Terms[i].Col < c.Terms[j].Col })
			conjs = append(conjs, c)
		}
		got, want := Instantiate(conjs, args, 3), instantiateWithMaps(conjs, args, 3)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%+v\ngot  %+v\nwant %+v", conjs, got, want)
		}
	})
}
