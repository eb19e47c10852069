package driver

import (
	"slices"
	"testing"
)

// The undelivered set empties only by deliveries that carried a stamp, and
// never of a stamp kept again after such a delivery started (a later write
// whose own delivery failed): that would serve the later write's stale
// entries with nothing left to invalidate them.
func TestUndeliveredSetSettles(t *testing.T) {
	d := newDatabase("db", "p:")
	cases := []struct {
		name        string
		keptDuring  []string
		undelivered []string
		left        []string
	}{
		{"all delivered", nil, nil, nil},
		{"one failed again", nil, []string{"y"}, []string{"y"}},
		{"one kept again meanwhile", []string{"x"}, nil, []string{"x"}},
		{"a new one failed", nil, []string{"z"}, []string{"z"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := &Config{}
			c.keepUndelivered(d, []string{"x", "y"})
			p := c.pendingUndelivered()
			if !c.hasUndelivered.Load() {
				t.Fatal("a delivery under way unblocked the cache")
			}
			c.keepUndelivered(d, tc.keptDuring)
			c.settleUndelivered(d, p, tc.undelivered)
			var left []string
			for s := range c.undelivered {
				left = append(left, s)
			}
			slices.Sort(left)
			if !slices.Equal(left, tc.left) || c.hasUndelivered.Load() != (len(tc.left) > 0) {
				t.Fatalf("left %v (blocked %v), want %v", left, c.hasUndelivered.Load(), tc.left)
			}
		})
	}
}
