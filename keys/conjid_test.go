package keys

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

// ConjID names stamps that readers and writers in other processes (other
// versions) compute too: its text must not change. The reference is the
// plain streaming hash it has always been.
func TestConjIDIsStable(t *testing.T) {
	reference := func(scheme string, values []string) string {
		h := sha256.New()
		h.Write([]byte(scheme))
		for _, v := range values {
			h.Write([]byte{1})
			h.Write([]byte(v))
		}
		return hex.EncodeToString(h.Sum(nil)[:16])
	}
	long := strings.Repeat("ü", 400) // past the stack buffer
	for _, c := range []struct {
		scheme string
		values []string
	}{
		{"", nil}, {"id", nil}, {"id", []string{"1"}}, {"a\x00b", []string{"x", ""}}, {"t", []string{long}}, {long, []string{long, "2"}},
	} {
		if got, want := ConjID(c.scheme, c.values), reference(c.scheme, c.values); got != want {
			t.Fatalf("%q %q: %s, want %s", c.scheme, c.values, got, want)
		}
	}
	if testing.AllocsPerRun(100, func() { ConjID("id", []string{"42"}) }) > 1 {
		t.Fatal("ConjID allocates more than its result")
	}
}
