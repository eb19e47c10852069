package cacheops_test

import (
	"database/sql"
	"testing"
)

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

// Every builtin setting that changes what a query returns or how a
// literal is read keys the entry: a session with the setting changed never
// gets another session's result.
func TestEverySettingThatChangesResultsIsInTheNamespace(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	e.outOfBand("CREATE TABLE ev (id int PRIMARY KEY, at timestamptz, d interval, f float8, b bytea, ts timestamp); INSERT INTO ev VALUES (1, '2020-01-01 10:00+00', '1 day 2 hours', 0.1, '\\x0102', '2020-01-01 10:00')")
	cases := []struct{ set, q string }{
		{"SET TimeZone = 'Asia/Tokyo'", "SELECT at::text FROM ev WHERE id = 1"},
		{"SET TimeZone = 'Asia/Tokyo'", "SELECT date_trunc('day', at) = '2020-01-01 00:00+00' FROM ev WHERE id = 1"},
		{"SET TimeZone = 'Asia/Tokyo'", "SELECT extract(hour from at)::int FROM ev WHERE id = 1"},
		{"SET TimeZone = 'Asia/Tokyo'", "SELECT ts::timestamptz::text FROM ev WHERE id = 1"},
		{"SET DateStyle = 'German'", "SELECT ts::text FROM ev WHERE id = 1"},
		{"SET IntervalStyle = 'iso_8601'", "SELECT d::text FROM ev WHERE id = 1"},
		{"SET extra_float_digits = -3", "SELECT f::text FROM ev WHERE id = 1"},
		{"SET bytea_output = 'escape'", "SELECT b::text FROM ev WHERE id = 1"},
		{"SET default_text_search_config = 'simple'", "SELECT to_tsvector('the cats')::text FROM ev WHERE id = 1"},
		{"SET lc_monetary = 'C'", "SELECT 1::money::text FROM ev WHERE id = 1"},
		{"SET standard_conforming_strings = off", "SELECT count(*) FROM ev WHERE 'a\\b' = 'a\\b' AND id = 1"},
		{"SET DateStyle = 'SQL, DMY'", "SELECT count(*) FROM ev WHERE ts = '01/02/2020 10:00'"},
		{"SET TimeZone = 'Asia/Tokyo'", "SELECT count(*) FROM ev WHERE at = '2020-01-01 19:00'"},
	}
	for _, c := range cases {
		a, b, db := e.conn(e.db), e.conn(e.db), e.conn(e.direct)
		mustExec(t, onConn{b}, c.set)
		rows(t, onConn{a}, c.q)
		ra := rows(t, onConn{a}, c.q)
		rb := rows(t, onConn{b}, c.q)
		mustExec(t, onConn{db}, c.set)
		want := rows(t, onConn{db}, c.q)
		if rb != want {
			t.Errorf("%s; %s: got %q (plain session %q), database %q", c.set, c.q, rb, ra, want)
		}
		db.Close()
		a.Close()
		b.Close()
	}
}

func (e *env) conn(db *sql.DB) *sql.Conn {
	e.t.Helper()
	c, err := db.Conn(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}
