package cacheops_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/cacheops/cacheops"
)

// read is one cached query of a scenario and what the write must do to it.
type read struct {
	sql  string
	args []any
	// kept: the write must leave it cached. oob then changes the database
	// behind cacheops' back so that a stale entry is visible; without kept
	// the read must be fresh after the write.
	kept bool
	oob  string
}

type scenario struct {
	name  string
	reads []read
	write func(e *env)
}

func sqlWrite(q string, args ...any) func(e *env) { return func(e *env) { e.exec(q, args...) } }

func fresh(sql string, args ...any) read { return read{sql: sql, args: args} }

func kept(oob, sql string, args ...any) read { return read{sql: sql, args: args, kept: true, oob: oob} }

const oobPost1 = "UPDATE post SET title = 'oob' WHERE id = 1"

// The invalidation scenarios of ../shared/SCENARIOS.md (1–29; 30–36 are the
// transaction, never-cached and RETURNING tests). Each checks both ways: a
// fresh read fails if the write's invalidation is missing, a kept read fails
// if it is too coarse.
func TestScenarios(t *testing.T) {
	t.Parallel()
	byID := "SELECT * FROM post WHERE id = $1"
	byCat := "SELECT * FROM post WHERE category_id = $1 ORDER BY id"
	scenarios := []scenario{
		{"01 update the row read", []read{fresh(byID, 1)}, sqlWrite("UPDATE post SET title = 'x' WHERE id = 1")},
		{"02 update another row", []read{kept(oobPost1, byID, 1)}, sqlWrite("UPDATE post SET title = 'x' WHERE id = 2")},
		{"03 insert into the group read", []read{fresh(byCat, 1)}, sqlWrite("INSERT INTO post(title, category_id) VALUES ('n', 1)")},
		{"04 insert into another group", []read{kept(oobPost1, byCat, 1)}, sqlWrite("INSERT INTO post(title, category_id) VALUES ('n', 2)")},
		{"05 move a row between groups", []read{fresh(byCat, 1), fresh(byCat, 2)}, sqlWrite("UPDATE post SET category_id = 2 WHERE id = 1")},
		{"06 flag", []read{fresh("SELECT count(*) FROM post WHERE visible")}, sqlWrite("UPDATE post SET visible = false WHERE id = 1")},
		{"07 count after insert", []read{fresh("SELECT count(*) FROM post")}, sqlWrite("INSERT INTO post(title) VALUES ('n')")},
		{"07 count after update", []read{fresh("SELECT count(*), max(title) FROM post")}, sqlWrite("UPDATE post SET title = 'zz' WHERE id = 2")},
		{"07 count after delete", []read{fresh("SELECT count(*) FROM post")}, sqlWrite("DELETE FROM post WHERE id = 3")},
		{"08 IN list, member", []read{fresh("SELECT * FROM post WHERE id IN (1, 2) ORDER BY id")}, sqlWrite("UPDATE post SET title = 'x' WHERE id = 2")},
		{"08 IN list, other", []read{kept(oobPost1, "SELECT * FROM post WHERE id IN (1, 2) ORDER BY id")}, sqlWrite("UPDATE post SET title = 'x' WHERE id = 3")},
		{"09 IS NULL", []read{fresh("SELECT * FROM post WHERE category_id IS NULL")}, sqlWrite("UPDATE post SET category_id = NULL WHERE id = 3")},
		{"10 range", []read{fresh("SELECT * FROM post WHERE id > 1 ORDER BY id")}, sqlWrite("UPDATE post SET title = 'x' WHERE id = 1")},
		{"11 NOT, update", []read{fresh("SELECT * FROM post WHERE NOT (id = 1) ORDER BY id")}, sqlWrite("UPDATE post SET title = 'x' WHERE id = 1")},
		{"11 NOT, insert", []read{fresh("SELECT * FROM post WHERE NOT (id = 1) ORDER BY id")}, sqlWrite("INSERT INTO post(title) VALUES ('n')")},
		{"12 OR, update", []read{fresh("SELECT * FROM post WHERE id = 1 OR category_id = 3 ORDER BY id")}, sqlWrite("UPDATE post SET title = 'x' WHERE id = 2")},
		{"12 OR, insert matching", []read{fresh("SELECT * FROM post WHERE id = 1 OR category_id = 3 ORDER BY id")},
			sqlWrite("INSERT INTO post(title, category_id) VALUES ('n', 3)")},
		{"12 OR, insert other", []read{kept(oobPost1, "SELECT * FROM post WHERE id = 1 OR category_id = 3 ORDER BY id")},
			sqlWrite("INSERT INTO post(title, category_id) VALUES ('n', 2)")},
		{"13 join", []read{fresh("SELECT p.* FROM post p JOIN category c ON c.id = p.category_id WHERE c.title = 'Django'")},
			sqlWrite("UPDATE category SET title = 'x' WHERE id = 1")},
		{"14 left join, other group", []read{kept("INSERT INTO post(title, category_id) VALUES ('oob', 1)",
			"SELECT c.id, count(p.id) FROM category c LEFT JOIN post p ON p.category_id = c.id WHERE c.id = 1 GROUP BY c.id")},
			sqlWrite("INSERT INTO post(title, category_id) VALUES ('n', 2)")},
		{"14 left join, same group", []read{fresh("SELECT c.id, count(p.id) FROM category c LEFT JOIN post p ON p.category_id = c.id WHERE c.id = 1 GROUP BY c.id")},
			sqlWrite("INSERT INTO post(title, category_id) VALUES ('n', 1)")},
		{"15 subquery, matching", []read{fresh("SELECT * FROM post WHERE category_id IN (SELECT id FROM category WHERE title = 'Perl') ORDER BY id")},
			sqlWrite("INSERT INTO category(title) VALUES ('Perl')")},
		{"15 subquery, other", []read{kept("UPDATE post SET title = 'oob' WHERE id = 2",
			"SELECT * FROM post WHERE category_id IN (SELECT id FROM category WHERE title = 'Perl') ORDER BY id")},
			sqlWrite("INSERT INTO category(title) VALUES ('Ruby')")},
		{"16 union, matching", []read{fresh("SELECT id FROM post WHERE category_id = 1 UNION SELECT id FROM category WHERE title = 'Perl' ORDER BY 1")},
			sqlWrite("INSERT INTO category(title) VALUES ('Perl')")},
		{"16 union, other", []read{kept("UPDATE category SET title = 'Perl' WHERE id = 4",
			"SELECT id FROM post WHERE category_id = 1 UNION SELECT id FROM category WHERE title = 'Perl' ORDER BY 1")},
			sqlWrite("INSERT INTO category(title) VALUES ('Ruby')")},
		{"17 mass update", []read{fresh(byCat, 3), fresh("SELECT * FROM post WHERE visible ORDER BY id")},
			sqlWrite("UPDATE post SET visible = false WHERE category_id = 3")},
		{"18 delete", []read{fresh(byID, 2), fresh(byCat, 3)}, sqlWrite("DELETE FROM post WHERE id = 2")},
		{"19 cascade", []read{fresh(byCat, 3), fresh("SELECT * FROM extra WHERE post_id = 2")}, sqlWrite("DELETE FROM category WHERE id = 3")},
		{"19 cascade, other parent", []read{kept("UPDATE post SET title = 'oob' WHERE id = 2", byCat, 3)},
			sqlWrite("DELETE FROM category WHERE id = 5")},
		{"20 truncate", []read{fresh("SELECT count(*) FROM post")}, sqlWrite("TRUNCATE post CASCADE")},
		{"21 m2m insert, matching", []read{fresh("SELECT l.* FROM label l JOIN brand_label bl ON bl.label_id = l.id WHERE bl.brand_id = 1 ORDER BY l.id")},
			sqlWrite("INSERT INTO brand_label VALUES (1, 2)")},
		{"21 m2m delete, matching", []read{fresh("SELECT l.* FROM label l JOIN brand_label bl ON bl.label_id = l.id WHERE bl.brand_id = 1 ORDER BY l.id")},
			sqlWrite("DELETE FROM brand_label WHERE brand_id = 1 AND label_id = 3")},
		{"21 m2m insert, other", []read{kept("DELETE FROM brand_label WHERE brand_id = 1 AND label_id = 3",
			"SELECT l.* FROM label l JOIN brand_label bl ON bl.label_id = l.id WHERE bl.brand_id = 1 ORDER BY l.id")},
			sqlWrite("INSERT INTO brand_label VALUES (2, 1)")},
		{"21 m2m delete, other", []read{kept("DELETE FROM brand_label WHERE brand_id = 1 AND label_id = 3",
			"SELECT l.* FROM label l JOIN brand_label bl ON bl.label_id = l.id WHERE bl.brand_id = 1 ORDER BY l.id")},
			sqlWrite("DELETE FROM brand_label WHERE brand_id = 2 AND label_id = 2")},
		{"22 delete the other side", []read{fresh("SELECT b.* FROM brand b JOIN brand_label bl ON bl.brand_id = b.id WHERE bl.label_id = 3 ORDER BY b.id")},
			sqlWrite("DELETE FROM brand WHERE id = 2")},
		{"23 unrelated table", []read{kept("UPDATE label SET text = 'oob' WHERE id = 2", "SELECT * FROM label WHERE id = 2")},
			sqlWrite("DELETE FROM brand_label WHERE brand_id = 1")},
		{"24 group by", []read{fresh("SELECT category_id, count(*) FROM post GROUP BY category_id ORDER BY 1")},
			sqlWrite("INSERT INTO post(title, category_id) VALUES ('n', 2)")},
		{"25 count of another group", []read{kept("INSERT INTO post(title, category_id) VALUES ('oob', 1)", "SELECT count(*) FROM post WHERE category_id = 1")},
			sqlWrite("INSERT INTO post(title, category_id) VALUES ('n', 2)")},
		{"26 argument forms", []read{fresh(byID, int64(1)), fresh(byID, int32(1)), fresh(byID, "1")},
			sqlWrite("UPDATE post SET title = 'x' WHERE id = 1")},
		{"27 literal read, argument write", []read{fresh("SELECT * FROM post WHERE id = 1")}, sqlWrite("UPDATE post SET title = 'x' WHERE id = $1", 1)},
		{"28 upsert", []read{fresh(byCat, 5), fresh(byCat, 1)},
			sqlWrite("INSERT INTO post(id, title, category_id) VALUES (1, 'x', 5) ON CONFLICT (id) DO UPDATE SET category_id = EXCLUDED.category_id")},
		{"29 prepared, fresh", []read{fresh(byID, 1), fresh(byCat, 1)}, prepared("UPDATE post SET category_id = $1 WHERE id = $2", 2, 1)},
		{"29 prepared, kept", []read{kept(oobPost1, byID, 1), kept("INSERT INTO post(title, category_id) VALUES ('oob', 1)", byCat, 1)},
			prepared("INSERT INTO post(title, category_id) VALUES ($1, $2)", "p", 4)},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			e := newFixture(t)
			for _, r := range sc.reads {
				e.cached(r.sql, r.args...)
			}
			for _, r := range sc.reads {
				if r.kept {
					e.outOfBand(r.oob)
				}
			}
			sc.write(e)
			for _, r := range sc.reads {
				if r.kept {
					e.kept(r.sql, r.args...)
				} else {
					e.fresh(r.sql, r.args...)
				}
			}
		})
	}
}

// prepared runs a write through db.Prepare + stmt.Exec.
func prepared(q string, args ...any) func(e *env) {
	return func(e *env) {
		st, err := e.db.Prepare(q)
		if err != nil {
			e.t.Fatal(err)
		}
		defer st.Close()
		if _, err := st.Exec(args...); err != nil {
			e.t.Fatal(fmt.Errorf("%s: %w", q, err))
		}
	}
}

// The limits trade granularity for bounded work: past them a read depends on
// any row and a write invalidates its table whole. Both directions are
// checked against the defaults.
func TestLimitsWidenInvalidation(t *testing.T) {
	t.Parallel()
	in3 := "SELECT * FROM post WHERE id IN (1, 2, 3) ORDER BY id"
	one := "SELECT * FROM post WHERE id = 1"
	mass := func(e *env) { e.exec("UPDATE post SET title = 'mass' WHERE id IN (2, 3)") }
	t.Run("defaults", func(t *testing.T) {
		e := newFixture(t)
		e.cached(in3)
		e.cached(one)
		e.outOfBand("UPDATE post SET title = 'oob' WHERE id = 1")
		e.exec("INSERT INTO post(title) VALUES ('new')")
		e.kept(in3)
		mass(e)
		e.kept(one)
	})
	t.Run("small", func(t *testing.T) {
		e := newFixture(t, func(o *cacheops.Options) { o.MaxInList = 2; o.MaxCapturedRows = 1 })
		e.cached(in3)
		e.outOfBand("UPDATE post SET title = 'oob' WHERE id = 1")
		e.exec("INSERT INTO post(title) VALUES ('new')") // the IN list is past the limit: any row
		e.fresh(in3)
		if got := e.read(in3); !strings.Contains(got, "oob") {
			t.Fatal(got)
		}
		e.outOfBand("UPDATE post SET title = 'Cacheops' WHERE id = 1")
		e.cached(one)
		e.outOfBand("UPDATE post SET title = 'oob' WHERE id = 1")
		mass(e) // two rows, past the capture limit: the table goes whole
		e.fresh(one)
	})
}

// Writes inside WITH queries are granular too, by what their SQL says of the
// rows (their rows cannot be captured without changing the caller's result).
func TestDataModifyingCTEsAreGranular(t *testing.T) {
	t.Parallel()
	byID := "SELECT * FROM post WHERE id = $1"
	cases := []struct {
		name  string
		write string
		args  []any
		fresh []any // ids whose read must be fresh
		kept  []any // ids whose read must be kept
	}{
		{"delete", "WITH d AS (DELETE FROM post WHERE id = $1 RETURNING id) SELECT count(*) FROM d", []any{2}, []any{2}, []any{1}},
		{"update", "WITH u AS (UPDATE post SET title = 'u' WHERE id = 2 RETURNING id) SELECT count(*) FROM u", nil, []any{2}, []any{1}},
		{"insert", "WITH i AS (INSERT INTO post(id, title) VALUES (7, 'n') RETURNING id) SELECT count(*) FROM i", nil, []any{7}, []any{1}},
		{"update of a key", "WITH u AS (UPDATE post SET id = $1 WHERE id = 3 RETURNING id) SELECT count(*) FROM u", []any{9}, []any{3, 9}, []any{1}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newFixture(t)
			for _, id := range append(append([]any(nil), c.fresh...), c.kept...) {
				e.cached(byID, id)
			}
			e.outOfBand(oobPost1)
			e.read(c.write, c.args...)
			for _, id := range c.fresh {
				e.fresh(byID, id)
			}
			for _, id := range c.kept {
				e.kept(byID, id)
			}
		})
	}
	// A category read is invalidated when a CTE moves posts into it.
	e := newFixture(t)
	e.cached("SELECT count(*) FROM post WHERE category_id = 2")
	e.read("WITH u AS (UPDATE post SET category_id = 2 WHERE id = 1 RETURNING id) SELECT count(*) FROM u")
	e.fresh("SELECT count(*) FROM post WHERE category_id = 2")
}
