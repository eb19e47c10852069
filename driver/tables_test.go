package driver

import (
	"testing"
	"time"
)

func TestTablePatterns(t *testing.T) {
	rules := map[string]TableRule{
		"*":             {},
		"app.*":         {Cache: true},
		"audit_log":     {},
		"app.audit_log": {Cache: true, TTL: time.Minute},
		"Mixed.*":       {Cache: true, TTL: time.Second},
	}
	for _, tc := range []struct {
		key   string
		want  TableRule
		found bool
	}{
		{`"app"."post"`, TableRule{Cache: true}, true},                        // schema.* beats *
		{`"public"."post"`, TableRule{}, true},                                // only *
		{`"public"."audit_log"`, TableRule{}, true},                           // a name beats *
		{`"app"."audit_log"`, TableRule{Cache: true, TTL: time.Minute}, true}, // exact beats name
		{`"Mixed"."t"`, TableRule{Cache: true, TTL: time.Second}, true},
		{`"mixed"."t"`, TableRule{}, true}, // identifiers compare as PostgreSQL stores them
		{`"app.x"."post"`, TableRule{}, true},
	} {
		got, found := ruleFor(rules, tc.key)
		if got != tc.want || found != tc.found {
			t.Errorf("%s: got %+v %v, want %+v %v", tc.key, got, found, tc.want, tc.found)
		}
	}
	if _, found := ruleFor(map[string]TableRule{"post": {}}, `"public"."comment"`); found {
		t.Error("a rule naming another table matched")
	}
}

// A read takes the smallest TTL of its tables and is off when one is.
func TestPlanRules(t *testing.T) {
	rules := map[string]TableRule{"a": {Cache: true, TTL: time.Minute}, "b": {Cache: true, TTL: time.Second}, "c": {}, "d": {Cache: true}}
	for _, tc := range []struct {
		deps []string
		off  bool
		ttl  time.Duration
	}{
		{[]string{`"s"."a"`, `"s"."b"`}, false, time.Second},
		{[]string{`"s"."a"`, `"s"."d"`}, false, time.Minute},
		{[]string{`"s"."d"`, `"s"."e"`}, false, 0},
		{[]string{`"s"."a"`, `"s"."c"`}, true, time.Minute},
	} {
		p := &plan{Plan: nil}
		p.applyRulesTo(tc.deps, rules)
		if p.tablesOff != tc.off || (!tc.off && p.tablesTTL != tc.ttl) {
			t.Errorf("%v: off %v ttl %v", tc.deps, p.tablesOff, p.tablesTTL)
		}
	}
}
