package keys

import (
	"reflect"
	"testing"

	"github.com/cacheops/cacheops/catalog"
)

func testCatalog() *catalog.Catalog {
	rels := []*catalog.Relation{
		{OID: 1, Schema: "public", Name: "category", Kind: 'r', CascadeChildren: []uint32{2}, Referencing: []uint32{2},
			Columns: map[string]catalog.ValueKind{"id": catalog.IntKind, "title": catalog.TextKind}},
		{OID: 2, Schema: "public", Name: "post", Kind: 'r', CascadeChildren: []uint32{3}, Referencing: []uint32{3},
			Columns: map[string]catalog.ValueKind{"id": catalog.IntKind, "title": catalog.TextKind, "category_id": catalog.IntKind,
				"visible": catalog.BoolKind, "score": catalog.NoKind}},
		{OID: 3, Schema: "public", Name: "extra", Kind: 'r',
			Columns: map[string]catalog.ValueKind{"id": catalog.IntKind, "post_id": catalog.IntKind, "tag": catalog.IntKind}},
		{OID: 4, Schema: "public", Name: "post_view", Kind: 'v', ViewBases: []uint32{2, 1}, ViewSQL: "SELECT p.id, c.title FROM post p JOIN category c ON c.id = p.category_id"},
		{OID: 5, Schema: "public", Name: "secret", Kind: 'r', RLS: true},
		{OID: 6, Schema: "public", Name: "measures", Kind: 'p', Children: []uint32{7}},
		{OID: 7, Schema: "public", Name: "measures_2024", Kind: 'r', Parents: []uint32{6}},
		{OID: 8, Schema: "public", Name: "audited", Kind: 'r', SideEffects: true},
		{OID: 9, Schema: "other", Name: "post", Kind: 'r'},
		{OID: 10, Schema: "pg_catalog", Name: "pg_class", Kind: 'r'},
		{OID: 11, Schema: "public", Name: "now_view", Kind: 'v', ViewSQL: "SELECT now() AS at"},
		{OID: 14, Schema: "public", Name: "date_view", Kind: 'v', ViewSQL: "SELECT CURRENT_DATE AS d"},
		{OID: 15, Schema: "public", Name: "user_view", Kind: 'v', ViewSQL: "SELECT 1", ViewFuncs: []catalog.Func{{Schema: "public", Name: "lookup", Volatility: 's'}}},
		{OID: 12, Schema: "public", Name: "seq", Kind: 'S'},
		{OID: 13, Schema: "public", Name: "mv", Kind: 'm', ViewBases: []uint32{2}},
	}
	funcs := map[string]map[string]byte{
		"pg_catalog": {"lower": 'i', "count": 'i', "now": 's', "random": 'v', "nextval": 'v', "to_char": 's', "current_setting": 's', "set_config": 'v'},
		"public":     {"pure": 'i', "lookup": 's', "bump": 'v', "uuid_generate_v4": 'v'},
	}
	return catalog.New(rels, funcs)
}

var publicSession = &Session{User: "app", SearchPath: []string{"public"}}

func resolve(sql string, s *Session) *Plan { return Resolve(Analyse(sql), testCatalog(), s) }

func TestResolveReads(t *testing.T) {
	cases := []struct {
		sql    string
		deps   []string
		reason bool
	}{
		{sql: "SELECT * FROM post WHERE id = 1", deps: []string{`"public"."post"`}},
		{sql: "SELECT * FROM other.post", deps: []string{`"other"."post"`}},
		{sql: "SELECT * FROM post_view", deps: []string{`"public"."category"`, `"public"."post"`, `"public"."post_view"`}},
		{sql: "SELECT * FROM mv", deps: []string{`"public"."mv"`}},
		{sql: "SELECT * FROM measures", deps: []string{`"public"."measures"`}},
		{sql: "SELECT lower(title), count(*) FROM post GROUP BY 1", deps: []string{`"public"."post"`}},
		{sql: "SELECT to_char(1, '9')", deps: []string{}},
		{sql: "SELECT pure(1)", deps: []string{}},
		{sql: "WITH p AS (SELECT * FROM post) SELECT * FROM p", deps: []string{`"public"."post"`}},
		{sql: "WITH post AS (SELECT * FROM post WHERE id = 1) SELECT * FROM post", deps: []string{`"public"."post"`}},
		{sql: "SELECT * FROM secret", reason: true},
		{sql: "SELECT * FROM pg_class", reason: true},
		{sql: "SELECT * FROM now_view", reason: true},
		{sql: "SELECT * FROM date_view", reason: true},
		{sql: "SELECT * FROM user_view", reason: true},
		{sql: "SELECT * FROM seq", reason: true},
		{sql: "SELECT now()", reason: true},
		{sql: "SELECT random()", reason: true},
		{sql: "SELECT current_setting('x')", reason: true},
		{sql: "SELECT lookup(1)", reason: true},
		{sql: "SELECT * FROM missing", reason: true},
		{sql: "SELECT nosuchfunc(1)", reason: true},
	}
	for _, c := range cases {
		t.Run(c.sql, func(t *testing.T) {
			p := resolve(c.sql, publicSession)
			if c.reason {
				if p.Cacheable {
					t.Fatalf("cacheable, deps %v", p.Deps)
				}
				return
			}
			if !p.Cacheable {
				t.Fatalf("not cacheable: %s", p.Reason)
			}
			if !reflect.DeepEqual(p.Deps, c.deps) {
				t.Fatalf("deps %v, want %v", p.Deps, c.deps)
			}
		})
	}
}

func TestResolveFollowsSearchPathAndTempTables(t *testing.T) {
	p := resolve("SELECT * FROM post", &Session{SearchPath: []string{"other", "public"}})
	if !reflect.DeepEqual(p.Deps, []string{`"other"."post"`}) {
		t.Fatalf("deps %v", p.Deps)
	}
	p = resolve("SELECT * FROM post", &Session{SearchPath: []string{"public"}, Temp: map[string]bool{"post": true}})
	if p.Cacheable {
		t.Fatal("a temporary table shadows post: never cached")
	}
	if p := resolve("SELECT * FROM post", &Session{SearchPath: []string{"nowhere"}}); p.Cacheable || p.Complete {
		t.Fatal("an unknown relation is neither cacheable nor a complete plan")
	}
}

func TestResolveWrites(t *testing.T) {
	cases := []struct {
		sql        string
		invalidate []string
		global     bool
	}{
		{sql: "UPDATE extra SET tag = 1", invalidate: []string{`"public"."extra"`}},
		{sql: "DELETE FROM category WHERE id = 3", invalidate: []string{`"public"."category"`, `"public"."extra"`, `"public"."post"`}},
		{sql: "INSERT INTO measures_2024 VALUES (1)", invalidate: []string{`"public"."measures"`, `"public"."measures_2024"`}},
		{sql: "INSERT INTO measures VALUES (1)", invalidate: []string{`"public"."measures"`, `"public"."measures_2024"`}},
		{sql: "UPDATE post_view SET title = 'x'", invalidate: []string{`"public"."category"`, `"public"."extra"`, `"public"."post"`, `"public"."post_view"`}},
		{sql: "TRUNCATE category CASCADE", invalidate: []string{`"public"."category"`, `"public"."extra"`, `"public"."post"`}},
		{sql: "REFRESH MATERIALIZED VIEW mv", invalidate: []string{`"public"."mv"`}},
		{sql: "UPDATE audited SET x = 1", global: true},
		{sql: "UPDATE nowhere SET x = 1", global: true},
		{sql: "SELECT bump()", global: true},
		{sql: "INSERT INTO post(id) VALUES (bump())", global: true},
		{sql: "CALL proc()", global: true},
		{sql: "SELECT uuid_generate_v4()"},
		{sql: "ALTER TABLE extra ADD COLUMN y int", global: true},
		{sql: "CREATE INDEX ON extra (tag)"},
	}
	for _, c := range cases {
		t.Run(c.sql, func(t *testing.T) {
			p := resolve(c.sql, publicSession)
			s := p.Steps[0]
			if s.Global != c.global {
				t.Fatalf("global = %v, want %v (%+v)", s.Global, c.global, s)
			}
			if !c.global && !reflect.DeepEqual(s.Invalidate, c.invalidate) && len(c.invalidate)+len(s.Invalidate) > 0 {
				t.Fatalf("invalidate %v, want %v", s.Invalidate, c.invalidate)
			}
		})
	}
}

func TestResolveWithoutCatalogIsSafe(t *testing.T) {
	p := Resolve(Analyse("SELECT * FROM post"), nil, publicSession)
	if p.Cacheable {
		t.Fatal("no catalog: no cache")
	}
	p = Resolve(Analyse("UPDATE post SET title = 'x'"), nil, publicSession)
	if !p.Steps[0].Global {
		t.Fatal("no catalog: a write invalidates everything")
	}
	if p := Resolve(Analyse("SELEC"), nil, publicSession); p.Steps[0].Kind != KindUnknown || !p.Steps[0].Global {
		t.Fatal("unparseable SQL is an unknown statement")
	}
	if p := resolve("SELECT set_config('search_path', 'x', false)", publicSession); !p.Steps[0].SessionChange {
		t.Fatal("set_config changes the session")
	}
}
