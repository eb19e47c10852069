package keys

import (
	"database/sql/driver"
	"reflect"
	"strings"
	"testing"

	"github.com/cacheops/cacheops/catalog"
)

func testCatalog() *catalog.Catalog {
	rels := []*catalog.Relation{
		{OID: 1, Schema: "public", Name: "category", Kind: 'r', CascadeChildren: []uint32{2}, Referencing: []uint32{2},
			ForeignKeys: []catalog.ForeignKey{{Child: 2, Cols: []string{"category_id"}, RefCols: []string{"id"}, OnDelete: 'c', OnUpdate: 'a'}},
			Columns:     map[string]catalog.ValueKind{"id": catalog.IntKind, "title": catalog.TextKind}},
		{OID: 2, Schema: "public", Name: "post", Kind: 'r', CascadeChildren: []uint32{3}, Referencing: []uint32{3},
			ForeignKeys: []catalog.ForeignKey{{Child: 3, Cols: []string{"post_id"}, RefCols: []string{"id"}, OnDelete: 'c', OnUpdate: 'c'}},
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
			if got := s.Relations(); !c.global && !reflect.DeepEqual(got, c.invalidate) && len(c.invalidate)+len(got) > 0 {
				t.Fatalf("invalidate %v, want %v", got, c.invalidate)
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

func TestCapturePlans(t *testing.T) {
	p := resolve("DELETE FROM category WHERE id = 3", publicSession)
	c := p.Steps[0].Capture
	if c == nil {
		t.Fatal("no capture")
	}
	if !strings.Contains(c.SQL, "RETURNING category.id, category.title") {
		t.Fatalf("sql %s", c.SQL)
	}
	if len(c.FKs) != 1 || c.FKs[0].Col != "category_id" || c.FKs[0].Rels[0] != `"public"."post"` {
		t.Fatalf("fks %+v", c.FKs)
	}
	if !reflect.DeepEqual(c.Wide, []string{`"public"."extra"`}) {
		t.Fatalf("wide %v", c.Wide)
	}
	changes := c.Changes([][]driver.Value{{int64(3), "Perl"}}, false)
	want := []Change{
		{Rel: `"public"."category"`, Images: []map[string]string{{"id": "3", "title": "Perl"}}},
		{Rel: `"public"."extra"`, Wide: true},
		{Rel: `"public"."post"`, Images: []map[string]string{{"category_id": "3"}}},
	}
	if !reflect.DeepEqual(changes, want) {
		t.Fatalf("changes %+v", changes)
	}

	p = resolve("UPDATE post p SET category_id = 2, title = $1 FROM category c WHERE c.id = p.category_id RETURNING p.title", publicSession)
	c = p.Steps[0].Capture
	if c == nil || !c.Assigned["category_id"] || !c.Assigned["title"] || len(c.FKs) != 0 || len(c.Wide) != 0 {
		t.Fatalf("%+v", c)
	}
	if !strings.HasSuffix(c.SQL, "RETURNING p.title, p.category_id, p.id, p.title, p.visible") {
		t.Fatalf("sql %s", c.SQL)
	}
	changes = c.Changes([][]driver.Value{{int64(2), int64(1), "x", true}}, false)
	imgs := changes[0].Images
	if len(imgs) != 2 || imgs[1]["id"] != "1" || imgs[1]["visible"] != "t" || len(imgs[1]) != 2 {
		t.Fatalf("the old image must know only the columns the UPDATE leaves alone: %+v", imgs)
	}

	// Updating a referenced key cascades to a child that cannot be followed by key.
	if c := resolve("UPDATE post SET id = 9 WHERE id = 1", publicSession).Steps[0].Capture; c == nil || !reflect.DeepEqual(c.Wide, []string{`"public"."extra"`}) {
		t.Fatalf("%+v", c)
	}
	if c := resolve("UPDATE post SET title = 'x' WHERE id = 1", publicSession).Steps[0].Capture; c == nil || len(c.Wide) != 0 {
		t.Fatalf("a key left alone cascades nowhere: %+v", c)
	}
	for _, sql := range []string{
		"WITH d AS (DELETE FROM extra RETURNING *) UPDATE post SET title = 'x'",
		"INSERT INTO post_view(id) VALUES (1)",
		"MERGE INTO post p USING category c ON p.category_id = c.id WHEN MATCHED THEN DELETE",
		"UPDATE audited SET x = 1",
	} {
		if c := resolve(sql, publicSession).Steps[0].Capture; c != nil {
			t.Errorf("%s: captured", sql)
		}
	}
	if c := resolve("INSERT INTO post(title) VALUES ('x'); SELECT 1", publicSession).Steps[0].Capture; c != nil {
		t.Error("multi-statement: captured")
	}
}

func TestResolveTables(t *testing.T) {
	got, err := ResolveTables(testCatalog(), publicSession, []string{"extra", `"public".Measures`})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{`"public"."extra"`, `"public"."measures"`, `"public"."measures_2024"`}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v", got)
	}
	if _, err := ResolveTables(testCatalog(), publicSession, []string{"nope"}); err == nil {
		t.Fatal("an unknown table must be an error")
	}
	if got, err := ResolveTables(testCatalog(), publicSession, []string{"audited"}); err != nil || got != nil {
		t.Fatalf("a table with triggers invalidates everything: %v %v", got, err)
	}
}

// A capture's text names the catalog it was planned with by a short digest
// of its token (which holds one part per schema stamp, kilobytes): a new
// catalog gives a new text, and the text does not grow with the token.
func TestCaptureTextNamesItsCatalogShortly(t *testing.T) {
	const write = "UPDATE post SET title = 'x' WHERE id = 1"
	texts := map[string]bool{}
	for _, token := range []string{strings.Repeat("X_rTFFBC5SomafwG", 270), strings.Repeat("X_rTFFBC5SomafwG", 269) + "Y_rTFFBC5SomafwG", ""} {
		cat := testCatalog()
		cat.Token = token
		c := Resolve(Analyse(write), cat, publicSession).Steps[0].Capture
		if c == nil {
			t.Fatal("no capture")
		}
		if len(c.SQL) > len(write)+120 {
			t.Errorf("the capture's text grows with the token (%d bytes): %.100s…", len(c.SQL), c.SQL)
		}
		texts[c.SQL] = true
	}
	if len(texts) != 3 {
		t.Errorf("catalogs with different tokens share a capture text: %v", texts)
	}
}
