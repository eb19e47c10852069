package keys

import (
	"reflect"
	"testing"
	"time"
)

func TestHints(t *testing.T) {
	for _, tc := range []struct {
		sql  string
		want Hints
	}{
		{"SELECT 1", Hints{}},
		{"/* cacheops:nocache */ SELECT 1", Hints{NoCache: true, KeyText: "SELECT 1"}},
		{"SELECT 1 /* cacheops:ttl=30s */", Hints{TTL: 30 * time.Second, KeyText: "SELECT 1"}},
		{"SELECT /* cacheops:refresh */ * FROM t", Hints{Refresh: true, KeyText: "SELECT * FROM t"}},
		{"SELECT/* cacheops:refresh */1", Hints{Refresh: true, KeyText: "SELECT 1"}},
		{"/* cacheops: ttl=5m, refresh */\nSELECT 1", Hints{Refresh: true, TTL: 5 * time.Minute, KeyText: "SELECT 1"}},
		{"-- cacheops:nocache\nSELECT 1", Hints{NoCache: true, KeyText: "SELECT 1"}},
		{"/* cacheops:nocache */ /* cacheops:ttl=1s */ SELECT 1", Hints{NoCache: true, TTL: time.Second, KeyText: "SELECT 1"}},
		// Other comments stay part of the text; unknown directives are kept
		// for explain, and ignored.
		{"/* app */ SELECT 1 /* cacheops:ttl=forever,no-cache */", Hints{KeyText: "/* app */ SELECT 1", Unknown: []string{"ttl=forever", "no-cache"}}},
		// A string literal is not a comment.
		{"SELECT '/* cacheops:nocache */'", Hints{}},
		{"SELECT $$ -- cacheops:nocache $$", Hints{}},
	} {
		if got := hintsOf(tc.sql); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%q: got %+v, want %+v", tc.sql, got, tc.want)
		}
	}
}

// The plan carries the hints of the text it was resolved from.
func TestPlanCarriesHints(t *testing.T) {
	p := Resolve(AnalyseWith("/* cacheops:ttl=2s */ SELECT 1", 0), nil, &Session{})
	if p.Hints.TTL != 2*time.Second || p.Hints.KeyText != "SELECT 1" {
		t.Fatalf("hints %+v", p.Hints)
	}
}
