package keys

import (
	"database/sql/driver"
	"encoding/json"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

func args(vs ...any) []driver.NamedValue {
	out := make([]driver.NamedValue, len(vs))
	for i, v := range vs {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return out
}

func key(t *testing.T, ns, sql string, vs ...any) string {
	t.Helper()
	k, ok := EntryKey("p:", ns, sql, args(vs...))
	if !ok {
		t.Fatalf("%v: not keyable", vs)
	}
	return k
}

func TestEntryKeyIsDeterministic(t *testing.T) {
	type named int32
	x := 5
	cases := [][]any{
		{int64(3)}, {"3"}, {nil}, {[]byte("3")}, {3.5}, {true}, {[]int64{1, 2}}, {[]string{"a", "b"}},
		{map[string]string{"b": "2", "a": "1"}}, {&x}, {(*int)(nil)}, {named(3)},
		{pgtype.Int4{Int32: 3, Valid: true}}, {json.RawMessage(`{"a":1}`)},
		{time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)}, {[2]int{1, 2}},
	}
	seen := map[string][]any{}
	for _, c := range cases {
		k1, k2 := key(t, "ns", "q", c...), key(t, "ns", "q", c...)
		if k1 != k2 {
			t.Fatalf("%v: %s != %s", c, k1, k2)
		}
		if m, ok := EntryMaterial(nil, "ns", "q", args(c...)); !ok || EntryKeyOf("p:", m) != k1 {
			t.Fatalf("%v: the material's key is not the call's", c)
		}
		if prev, dup := seen[k1]; dup {
			t.Fatalf("%v and %v share a key", prev, c)
		}
		seen[k1] = c
	}
}

func TestEntryKeySeparatesWhatDiffers(t *testing.T) {
	base := key(t, "ns", "SELECT $1", int64(1))
	for name, k := range map[string]string{
		"namespace": key(t, "ns2", "SELECT $1", int64(1)),
		"sql":       key(t, "ns", "SELECT $1 ", int64(1)),
		"value":     key(t, "ns", "SELECT $1", int64(2)),
		"type":      key(t, "ns", "SELECT $1", int32(1)),
		"arity":     key(t, "ns", "SELECT $1", int64(1), nil),
	} {
		if k == base {
			t.Errorf("%s: same key", name)
		}
	}
	utc := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	if key(t, "ns", "q", utc) == key(t, "ns", "q", utc.In(time.FixedZone("X", 3600))) {
		t.Error("the same instant in another zone may mean another timestamp: keys must differ")
	}
	// Length prefixes keep ("ab","c") and ("a","bc") apart.
	if key(t, "ns", "q", "ab", "c") == key(t, "ns", "q", "a", "bc") {
		t.Error("argument boundaries are ambiguous")
	}
	if key(t, "n", "sq") == key(t, "ns", "q") {
		t.Error("namespace and SQL boundaries are ambiguous")
	}
}

// The key of a call's material is the call's key, for materials longer than
// EntryKey hashes at once too.
func TestEntryMaterialKeysAsTheCall(t *testing.T) {
	long := string(make([]byte, 10000))
	for _, vs := range [][]any{nil, {int64(1)}, {long}, {long, []string{long, "x"}, long}} {
		k := key(t, "ns", "SELECT $1", vs...)
		m, ok := EntryMaterial([]byte("reused"), "ns", "SELECT $1", args(vs...))
		if !ok || EntryKeyOf("p:", m[len("reused"):]) != k {
			t.Fatalf("%d args: the material's key is not the call's", len(vs))
		}
	}
	if _, ok := EntryMaterial(nil, "ns", "q", args("today")); ok {
		t.Fatal("a material for a call EntryKey refuses")
	}
}

func TestEntryKeyRefusesWhatItCannotKey(t *testing.T) {
	type opaque struct{ a int }
	for _, v := range []any{opaque{1}, make(chan int), "today", " Now ", []byte("tomorrow"), []any{"yesterday"}} {
		if _, ok := EntryKey("p:", "ns", "q", args(v)); ok {
			t.Errorf("%#v: keyed", v)
		}
	}
}

func FuzzEntryKey(f *testing.F) {
	f.Add("ns", "SELECT $1", int64(1), "x", []byte("y"), 1.5)
	f.Fuzz(func(t *testing.T, ns, sql string, i int64, s string, b []byte, fl float64) {
		a := args(i, s, b, fl)
		k1, ok1 := EntryKey("p:", ns, sql, a)
		k2, ok2 := EntryKey("p:", ns, sql, a)
		if k1 != k2 || ok1 != ok2 {
			t.Fatal("not deterministic")
		}
		if m, ok := EntryMaterial(nil, ns, sql, a); ok != ok1 || ok && EntryKeyOf("p:", m) != k1 {
			t.Fatal("the material's key is not the call's")
		}
	})
}
