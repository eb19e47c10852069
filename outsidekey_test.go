package cacheops_test

import "testing"

// Results that depend on more than the SQL, its arguments and the namespace
// are never cached: relative times by PostgreSQL's own rules, system
// columns that VACUUM FULL, CLUSTER and row locks change.
func TestResultsThatDependOnMoreThanTheKey(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	cases := []struct {
		sql  string
		args []any
	}{
		{"SELECT count(*) FROM post WHERE '2000-01-01'::timestamptz < 'now()'", nil},
		{"SELECT count(*) FROM post WHERE '2000-01-01'::timestamptz < 'today 10:00'", nil},
		{"SELECT count(*) FROM post WHERE '2000-01-01'::timestamptz < 'tomorrow z'", nil},
		{"SELECT count(*) FROM post WHERE '2000-01-01'::timestamptz < $1::timestamptz", []any{"Yesterday 23:59"}},
		{"SELECT ctid::text, id FROM post WHERE id = 1", nil},
		{"SELECT xmin::text, xmax::text, id FROM post WHERE id = 1", nil},
		{"SELECT p.ctid::text FROM post p WHERE p.id = 1", nil},
	}
	stores := e.cache.Stats().Stores
	for _, c := range cases {
		e.read(c.sql, c.args...)
		e.read(c.sql, c.args...)
	}
	if s := e.cache.Stats(); s.Stores != stores || s.Hits != 0 {
		t.Fatalf("cached a result that depends on more than its key: %+v", s)
	}
}

// Settings that change what a query returns are part of the namespace:
// transform_null_equals turns "x = NULL" into "x IS NULL".
func TestResultChangingSettingsAreInTheNamespace(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	e.outOfBand("INSERT INTO post(title) VALUES ('no category')")
	q := "SELECT count(*) FROM post WHERE category_id = NULL"
	plain, err := e.db.Conn(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	transformed, err := e.db.Conn(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer transformed.Close()
	mustExec(t, onConn{transformed}, "SET transform_null_equals = on")
	for i := 0; i < 2; i++ {
		if got := rows(t, onConn{plain}, q); got != "0" {
			t.Fatalf("plain session read %q", got)
		}
		if got := rows(t, onConn{transformed}, q); got != "1" {
			t.Fatalf("with transform_null_equals on: %q, another session's result", got)
		}
	}
}
