package cacheops_test

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"

	"github.com/jmoiron/sqlx"
)

const typesFixture = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN positive AS int CHECK (VALUE > 0);
CREATE TYPE pair AS (a int, b text);
CREATE TABLE typed (
  id int PRIMARY KEY,
  i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, num numeric(10, 3), num_any numeric, cash money,
  b bool, t text, vc varchar(10), ch char(5), by bytea, js json, jsb jsonb, u uuid,
  d date, tm time, tmtz timetz, ts timestamp, tstz timestamptz, iv interval,
  ia int4[], ta text[], m mood, dom positive, comp pair, ip inet, net cidr, mac macaddr,
  r int4range, tr tstzrange, o oid, x xml, bits bit varying(8)
);
INSERT INTO typed VALUES
 (1, 1, -2, 9223372036854775807, 1.5, 2.25, 1234567.125, 0.1, 12.34,
  true, 'text ✓', 'varchar', 'ab', '\x00ff10', '{"a": [1, 2]}', '{"b": null}', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
  '2024-02-29', '13:14:15.123456', '13:14:15+02', '2024-02-29 13:14:15.123456', '2024-02-29 13:14:15.123456+05:30', '1 year 2 mons 3 days 04:05:06',
  '{1,NULL,3}', '{"a b","c"}', 'happy', 7, '(1,"x y")', '192.168.0.1/24', '10.0.0.0/8', '08:00:2b:01:02:03',
  '[1,5)', '[2024-01-01 00:00+00,2024-02-01 00:00+00)', 42, '<a>b</a>', B'101'),
 (2, -32768, -2147483648, -9223372036854775808, 'NaN', 'Infinity', -0.001, 'NaN', -0.5,
  false, '', '', '', '', 'null', '[]', '00000000-0000-0000-0000-000000000000',
  'infinity', '00:00', '00:00+00', 'infinity', '-infinity', '-1 day',
  '{}', '{}', 'sad', 1, '(,)', '::1', '::/0', 'ff:ff:ff:ff:ff:ff',
  'empty', '(,)', 0, '', B''),
 (3, NULL, NULL, NULL, '-Infinity', '-Infinity', NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  '-infinity', NULL, NULL, '-infinity', 'infinity', NULL,
  NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
  NULL, NULL, NULL, NULL, NULL);
`

// describe renders every value with its Go type and every column with all
// database/sql can say about it, so that two results compare exactly.
func describe(t testing.TB, rs *sql.Rows) string {
	t.Helper()
	defer rs.Close()
	cts, err := rs.ColumnTypes()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, ct := range cts {
		n, nok := ct.Nullable()
		l, lok := ct.Length()
		p, s, dok := ct.DecimalSize()
		fmt.Fprintf(&b, "%s %s %v null=%v,%v len=%v,%v dec=%v,%v,%v\n", ct.Name(), ct.DatabaseTypeName(), ct.ScanType(), n, nok, l, lok, p, s, dok)
	}
	for rs.Next() {
		vals := make([]any, len(cts))
		ptrs := make([]any, len(cts))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			fmt.Fprintf(&b, "%T %#v; ", v, v)
		}
		b.WriteString("\n")
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestHitReturnsExactlyWhatPgxReturns(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.outOfBand(typesFixture)
	queries := []string{
		"SELECT * FROM typed ORDER BY id",
		"SELECT id, num::numeric(12,2) AS n2, vc::varchar(3), ch::char(2), NULL AS nothing, 1::int2 + 1 AS expr FROM typed ORDER BY id",
		"SELECT * FROM typed WHERE id = -1", // empty result: columns only
	}
	for _, q := range queries {
		rs, err := e.direct.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		want := describe(t, rs)
		for _, pass := range []string{"miss", "hit"} {
			hits := e.cache.Stats().Hits
			rs, err := e.db.Query(q)
			if err != nil {
				t.Fatal(err)
			}
			got := describe(t, rs)
			if (e.cache.Stats().Hits > hits) != (pass == "hit") {
				t.Fatalf("%s: expected a %s", q, pass)
			}
			if got != want {
				t.Fatalf("%s on a %s differs from pgx:\n--- pgx\n%s\n--- cacheops\n%s", q, pass, want, got)
			}
		}
	}
}

func TestHitThroughSqlxMapScanMatchesPgx(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.outOfBand(typesFixture)
	q := "SELECT * FROM typed ORDER BY id"
	mapRows := func(db *sql.DB) string {
		rs, err := sqlx.NewDb(db, "pgx").Queryx(q)
		if err != nil {
			t.Fatal(err)
		}
		defer rs.Close()
		var b strings.Builder
		for rs.Next() {
			m := map[string]any{}
			if err := rs.MapScan(m); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%#v\n", m)
		}
		return b.String()
	}
	want := mapRows(e.direct)
	for _, pass := range []string{"miss", "hit"} {
		if got := mapRows(e.db); got != want {
			t.Fatalf("%s differs:\n%s\n%s", pass, want, got)
		}
	}
	if e.cache.Stats().Hits != 1 {
		t.Fatalf("stats %+v", e.cache.Stats())
	}
}
