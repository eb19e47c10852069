package catalog

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"os"
	"strings"
	"testing"

	_ "github.com/jackc/pgx/v5/stdlib"
)

type sqlQuerier struct{ db *sql.DB }

func (q sqlQuerier) QueryAll(ctx context.Context, query string) ([][]driver.Value, error) {
	rs, err := q.db.QueryContext(ctx, query)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	var out [][]driver.Value
	for rs.Next() {
		row := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range row {
			ptrs[i] = &row[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, err
		}
		vals := make([]driver.Value, len(row))
		for i, v := range row {
			vals[i] = v
		}
		out = append(out, vals)
	}
	return out, rs.Err()
}

// testDB opens the test database (CACHEOPS_TEST_DATABASE).
func testDB(tb testing.TB) *sql.DB {
	dsn := os.Getenv("CACHEOPS_TEST_DATABASE")
	if dsn == "" {
		dsn = "postgres://root@127.0.0.1:5432/test?sslmode=disable"
	}
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// BenchmarkLoad: what a catalog reload costs (every process pays one after
// a schema change, CALL or DO).
func BenchmarkLoad(b *testing.B) {
	db := testDB(b)
	for i := 0; i < b.N; i++ {
		if _, err := Load(context.Background(), sqlQuerier{db}); err != nil {
			b.Fatal(err)
		}
	}
}

// Load against the real PostgreSQL.
func TestLoadReadsTheSchema(t *testing.T) {
	db := testDB(t)
	_, err := db.Exec(`DROP SCHEMA IF EXISTS catalog_test CASCADE; CREATE SCHEMA catalog_test;
SET search_path = catalog_test;
CREATE TABLE parent (id int PRIMARY KEY);
CREATE TABLE child (id int, parent_id int REFERENCES parent ON DELETE CASCADE);
CREATE TABLE plain_ref (parent_id int REFERENCES parent);
CREATE TABLE secret (id int); ALTER TABLE secret ENABLE ROW LEVEL SECURITY;
CREATE TABLE part (k int) PARTITION BY LIST (k); CREATE TABLE part_1 PARTITION OF part FOR VALUES IN (1);
CREATE VIEW v AS SELECT c.id, now() AS at FROM child c JOIN parent p ON p.id = c.parent_id;
CREATE FUNCTION trg() RETURNS trigger LANGUAGE plpgsql AS 'BEGIN RETURN NEW; END';
CREATE TRIGGER t BEFORE INSERT ON plain_ref FOR EACH ROW EXECUTE FUNCTION trg();
CREATE TYPE color AS ENUM ('red');
CREATE DOMAIN small AS int2;
CREATE TABLE kinds (i int, b bool, t text, v varchar(3), u uuid, c color, d small, n numeric, f float8,
  ch char(2), ts timestamptz, tc text COLLATE "C", nm name, g int GENERATED ALWAYS AS (i * 2) STORED);
CREATE FUNCTION f_immutable(int) RETURNS int IMMUTABLE LANGUAGE sql AS 'SELECT $1';
CREATE FUNCTION f_writes() RETURNS int VOLATILE LANGUAGE sql AS 'SELECT 1';
CREATE TABLE defaults (id int DEFAULT f_writes(), at timestamptz DEFAULT now());
CREATE FUNCTION f_stable(int, int) RETURNS bool STABLE LANGUAGE sql AS 'SELECT $1 = $2';
CREATE OPERATOR catalog_test.=== (LEFTARG = int, RIGHTARG = int, FUNCTION = f_stable);
CREATE DOMAIN d_writes AS int DEFAULT f_writes(); CREATE DOMAIN d_outer AS d_writes;
CREATE TYPE boxed AS (v d_outer); CREATE TABLE nested (a d_outer[], b boxed, c int);
CREATE TYPE tag AS (t text); CREATE FUNCTION to_tag(int) RETURNS tag STABLE LANGUAGE sql AS 'SELECT ROW($1::text)::tag';
CREATE CAST (int AS tag) WITH FUNCTION to_tag(int); CREATE TABLE tagged (t tag[]);`)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Exec("DROP SCHEMA catalog_test CASCADE")
	cat, err := Load(context.Background(), sqlQuerier{db})
	if err != nil {
		t.Fatal(err)
	}
	rel := func(name string) *Relation {
		r := cat.Lookup("catalog_test", name)
		if r == nil {
			t.Fatalf("%s not loaded", name)
		}
		return r
	}
	parent, child, plain := rel("parent"), rel("child"), rel("plain_ref")
	if len(parent.CascadeChildren) != 1 || parent.CascadeChildren[0] != child.OID {
		t.Errorf("cascade children %v", parent.CascadeChildren)
	}
	if fk := parent.ForeignKeys; len(fk) != 2 || fk[0].Cols[0] != "parent_id" || fk[0].RefCols[0] != "id" {
		t.Errorf("foreign keys %+v", fk)
	}
	if len(parent.Referencing) != 2 {
		t.Errorf("referencing %v", parent.Referencing)
	}
	if !rel("secret").RLS || !plain.SideEffects || parent.SideEffects {
		t.Error("row security or triggers misread")
	}
	if p1 := rel("part_1"); len(p1.Parents) != 1 || p1.Parents[0] != rel("part").OID || rel("part").Kind != 'p' {
		t.Error("partitions misread")
	}
	v := rel("v")
	if v.Kind != 'v' || len(v.ViewBases) != 2 {
		t.Errorf("view bases %v", v.ViewBases)
	}
	if !strings.Contains(v.ViewSQL, "now()") {
		t.Errorf("view definition %q", v.ViewSQL)
	}
	if vol, ok := cat.FuncVolatility("catalog_test", "f_immutable"); !ok || vol != Immutable {
		t.Error("function volatility misread")
	}
	if vol, _ := cat.FuncVolatility("pg_catalog", "random"); vol != Volatile {
		t.Error("random is volatile")
	}
	want := map[string]ValueKind{"i": IntKind, "b": BoolKind, "t": TextKind, "v": TextKind, "u": UUIDKind,
		"c": EnumKind, "d": IntKind, "n": NoKind, "f": NoKind, "ch": NoKind, "ts": NoKind, "tc": TextKind,
		"nm": NoKind, "g": IntKind}
	for col, kind := range want {
		if got, ok := rel("kinds").Columns[col]; !ok || got != kind {
			t.Errorf("column %s: kind %q, want %q", col, got, kind)
		}
	}
	k := rel("kinds")
	if k.MaxLen["v"] != 3 || len(k.MaxLen) != 1 || !k.Generated["g"] || len(k.Generated) != 1 {
		t.Errorf("lengths %v, generated %v", k.MaxLen, k.Generated)
	}
	if k.Classes["i"] != k.Classes["d"] || k.Classes["t"] == k.Classes["tc"] || k.Classes["t"] != k.Classes["v"] {
		t.Errorf("compare classes %v", k.Classes)
	}
	if len(k.Order) != 14 || k.Order[0] != "i" || k.Order[13] != "g" {
		t.Errorf("column order %v", k.Order)
	}
	if w := rel("defaults").WriteFuncs; len(w) != 1 || w[0] != "f_writes" {
		t.Errorf("functions run by defaults: %v", w)
	}
	if w := rel("nested").WriteFuncs; len(w) != 2 || w[0] != "f_writes" || w[1] != "f_writes" {
		t.Errorf("functions run by nested domains (array and composite): %v", w)
	}
	if c := rel("tagged").CastFuncs; len(c) != 1 || c[0] != (Func{Name: "to_tag", Volatility: Stable}) || len(rel("tagged").WriteFuncs) != 0 {
		t.Errorf("casts of a column's type: %v", c)
	}
	if len(rel("kinds").CastFuncs)+len(rel("kinds").WriteFuncs) != 0 {
		t.Error("a table of builtin types and plain domains runs nothing")
	}
	if vol, ok := cat.OperatorVolatility("catalog_test", "::tag"); !ok || vol != Stable {
		t.Error("a user cast is not checked like an operator")
	}
	if vol, ok := cat.OperatorVolatility("catalog_test", "==="); !ok || vol != Stable {
		t.Error("user operator misread")
	}
	if rel("parent").Key() != `"catalog_test"."parent"` {
		t.Error(rel("parent").Key())
	}
}
