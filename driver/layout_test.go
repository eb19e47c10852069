package driver

import (
	"fmt"
	"strings"
	"testing"

	"pgregory.net/rapid"

	"github.com/cacheops/cacheops/keys"
	"github.com/cacheops/cacheops/lua"
)

// Whatever the prefix, database identity and relation names (braces
// included), the keys a script or an atomic read needs together share a
// slot: a relation's stamps and schemes set, and its bucket's global and
// schema copies; an entry shares its first relation's. And a database's
// relations spread over many slots.
func TestLayoutKeepsTogetherWhatMustBe(t *testing.T) {
	name := rapid.StringOfN(rapid.SampledFrom([]rune("ab{}:*\"é.\x00")), 0, 12, -1)
	rapid.Check(t, func(rt *rapid.T) {
		prefix := name.Draw(rt, "prefix")
		if CheckPrefix(prefix) != nil {
			if !strings.Contains(prefix, "{}") {
				rt.Fatalf("%q refused", prefix)
			}
			return
		}
		d := newDatabase(name.Draw(rt, "id"), prefix)
		rel := `"` + name.Draw(rt, "schema") + `"."` + name.Draw(rt, "table") + `"`
		b := d.bucket(rel)
		slot := lua.Slot(d.stamp(rel))
		for _, k := range []string{
			d.schemesSet(rel), d.conjStamp(rel, "id", []string{"{1}"}), d.schemeStamp(rel, "id"),
			d.globalStamps[b], d.schemaStamps[b], d.tags[b] + "e:0123",
		} {
			if lua.Slot(k) != slot {
				rt.Fatalf("%q and %q are in different slots", k, d.stamp(rel))
			}
		}
		p := d.newPlan(&keys.Plan{Cacheable: true, Deps: []string{rel, rel + "x"}}, nil, &Config{})
		if lua.Slot(p.entryPrefix+"e:0") != slot || lua.Slot(p.stamps[0]) != slot || lua.Slot(p.stamps[1]) != slot {
			rt.Fatalf("a plan's entry and first copies are not with its first relation")
		}
	})
}

func TestRelationsSpreadOverSlots(t *testing.T) {
	d := newDatabase("db", "cacheops:")
	slots := map[int]bool{}
	for i := 0; i < 1000; i++ {
		slots[lua.Slot(d.stamp(fmt.Sprintf(`"public"."t%d"`, i)))] = true
	}
	if len(slots) < buckets*9/10 {
		t.Fatalf("1000 relations in %d slots", len(slots))
	}
	other := newDatabase("db2", "cacheops:")
	if lua.Slot(other.globalStamps[0]) == lua.Slot(d.globalStamps[0]) {
		t.Fatal("two databases' bucket 0 share a slot")
	}
}
