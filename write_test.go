package cacheops_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/cacheops/cacheops"
)

// Each write path invalidates the relations it changes. Every case caches a
// read, writes through cacheops, and checks the read is fresh; without the
// invalidation it would still return the cached result.
func TestEveryWritePathInvalidates(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name  string
		read  string
		setup string // out of band, before the read is cached
		write func(e *env)
	}{
		{name: "autocommit update", read: "SELECT title FROM post WHERE id = 1",
			write: func(e *env) { e.exec("UPDATE post SET title = 'u' WHERE id = 1") }},
		{name: "insert", read: "SELECT count(*) FROM post",
			write: func(e *env) { e.exec("INSERT INTO post(title, category_id) VALUES ('n', 1)") }},
		{name: "delete", read: "SELECT count(*) FROM extra",
			write: func(e *env) { e.exec("DELETE FROM extra WHERE id = 1") }},
		{name: "insert returning through Query", read: "SELECT count(*) FROM post",
			write: func(e *env) {
				var id int
				if err := e.db.QueryRow("INSERT INTO post(title) VALUES ('r') RETURNING id").Scan(&id); err != nil {
					e.t.Fatal(err)
				}
			}},
		{name: "data-modifying CTE", read: "SELECT count(*) FROM extra",
			write: func(e *env) { e.read("WITH d AS (DELETE FROM extra WHERE id = 2 RETURNING id) SELECT count(*) FROM d") }},
		{name: "prepared statement", read: "SELECT title FROM post WHERE id = 2",
			write: func(e *env) {
				st, err := e.db.Prepare("UPDATE post SET title = $1 WHERE id = $2")
				if err != nil {
					e.t.Fatal(err)
				}
				defer st.Close()
				if _, err := st.Exec("prepared", 2); err != nil {
					e.t.Fatal(err)
				}
			}},
		{name: "upsert", read: "SELECT title, category_id FROM post ORDER BY id",
			write: func(e *env) {
				e.exec("INSERT INTO post(id, title, category_id) VALUES (1, 'x', 5) ON CONFLICT (id) DO UPDATE SET category_id = EXCLUDED.category_id")
			}},
		{name: "update from", read: "SELECT title FROM post ORDER BY id",
			write: func(e *env) {
				e.exec("UPDATE post SET title = c.title FROM category c WHERE c.id = post.category_id")
			}},
		{name: "delete using", read: "SELECT count(*) FROM extra",
			write: func(e *env) { e.exec("DELETE FROM extra USING post WHERE post.id = extra.post_id AND post.id = 1") }},
		{name: "merge", read: "SELECT count(*) FROM extra",
			write: func(e *env) {
				e.exec("MERGE INTO extra x USING post p ON x.post_id = p.id WHEN MATCHED AND p.id = 2 THEN DELETE")
			}},
		{name: "truncate", read: "SELECT count(*) FROM extra",
			write: func(e *env) { e.exec("TRUNCATE extra") }},
		{name: "copy from", read: "SELECT count(*) FROM brand",
			write: func(e *env) {
				e.exec("COPY brand(name) FROM PROGRAM 'echo copied'")
			}},
		{name: "cascade delete reaches children", read: "SELECT count(*) FROM extra",
			write: func(e *env) { e.exec("DELETE FROM category WHERE id = 1") }},
		{name: "cascade reaches grandchildren of a view", read: "SELECT count(*) FROM post_titles",
			setup: "CREATE VIEW post_titles AS SELECT p.title FROM post p JOIN extra x ON x.post_id = p.id",
			write: func(e *env) { e.exec("DELETE FROM category WHERE id = 3") }},
		{name: "truncate cascade", read: "SELECT count(*) FROM post",
			write: func(e *env) { e.exec("TRUNCATE category CASCADE") }},
		{name: "view reads its base table", read: "SELECT * FROM visible_posts",
			setup: "CREATE VIEW visible_posts AS SELECT id, title FROM post WHERE visible",
			write: func(e *env) { e.exec("UPDATE post SET visible = false WHERE id = 1") }},
		{name: "write through a view", read: "SELECT title FROM post WHERE id = 1",
			setup: "CREATE VIEW all_posts AS SELECT id, title FROM post",
			write: func(e *env) { e.exec("UPDATE all_posts SET title = 'via view' WHERE id = 1") }},
		{name: "materialized view refresh", read: "SELECT * FROM post_count",
			setup: "CREATE MATERIALIZED VIEW post_count AS SELECT count(*) FROM post; INSERT INTO post(title) VALUES ('later')",
			write: func(e *env) { e.exec("REFRESH MATERIALIZED VIEW post_count") }},
		{name: "write to a partition, read the parent", read: "SELECT count(*) FROM measure",
			setup: "CREATE TABLE measure (at int, v int) PARTITION BY RANGE (at); CREATE TABLE measure_1 PARTITION OF measure FOR VALUES FROM (0) TO (100)",
			write: func(e *env) { e.exec("INSERT INTO measure_1 VALUES (1, 1)") }},
		{name: "write to the parent, read a partition", read: "SELECT count(*) FROM measure_1",
			setup: "CREATE TABLE measure (at int, v int) PARTITION BY RANGE (at); CREATE TABLE measure_1 PARTITION OF measure FOR VALUES FROM (0) TO (100)",
			write: func(e *env) { e.exec("INSERT INTO measure VALUES (1, 1)") }},
		{name: "inheritance child", read: "SELECT count(*) FROM animal",
			setup: "CREATE TABLE animal (name text); CREATE TABLE dog () INHERITS (animal)",
			write: func(e *env) { e.exec("INSERT INTO dog VALUES ('rex')") }},
		{name: "trigger writes another table", read: "SELECT count(*) FROM audit",
			setup: `CREATE TABLE audit (n int);
CREATE FUNCTION audit_post() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN INSERT INTO audit VALUES (1); RETURN NEW; END$$;
CREATE TRIGGER post_audit AFTER UPDATE ON post FOR EACH ROW EXECUTE FUNCTION audit_post()`,
			write: func(e *env) { e.exec("UPDATE post SET title = 't' WHERE id = 1") }},
		{name: "volatile user function writes", read: "SELECT count(*) FROM brand",
			setup: "CREATE FUNCTION add_brand() RETURNS int LANGUAGE sql AS $$INSERT INTO brand(name) VALUES ('f') RETURNING id$$",
			write: func(e *env) { e.read("SELECT add_brand()") }},
		{name: "DO block", read: "SELECT count(*) FROM brand",
			write: func(e *env) { e.exec("DO $$BEGIN INSERT INTO brand(name) VALUES ('do'); END$$") }},
		{name: "procedure", read: "SELECT count(*) FROM brand",
			setup: "CREATE PROCEDURE add_b() LANGUAGE sql AS $$INSERT INTO brand(name) VALUES ('p')$$",
			write: func(e *env) { e.exec("CALL add_b()") }},
		{name: "multi-statement string", read: "SELECT count(*) FROM label",
			write: func(e *env) { e.exec("INSERT INTO label(text) VALUES ('a'); INSERT INTO label(text) VALUES ('b')") }},
		{name: "multi-statement transaction", read: "SELECT count(*) FROM label",
			write: func(e *env) { e.exec("BEGIN; INSERT INTO label(text) VALUES ('a'); COMMIT") }},
		{name: "DDL", read: "SELECT name FROM brand ORDER BY id",
			write: func(e *env) { e.exec("ALTER TABLE brand ALTER COLUMN name TYPE text USING upper(name)") }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newFixture(t)
			if c.setup != "" {
				e.outOfBand(c.setup)
			}
			e.cached(c.read)
			before := e.read(c.read)
			c.write(e)
			e.fresh(c.read)
			if after := e.direct_(c.read); after == before {
				t.Fatalf("the write did not change %s: the test proves nothing", c.read)
			}
		})
	}
}

// A write invalidates only the relations it changes (table granularity here).
func TestWritesLeaveOtherTablesCached(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	e.cached("SELECT * FROM label ORDER BY id")
	e.cached("SELECT * FROM category ORDER BY id")
	e.outOfBand("UPDATE label SET text = 'oob' WHERE id = 1")
	e.outOfBand("UPDATE category SET title = 'oob' WHERE id = 5")
	e.exec("UPDATE brand SET name = 'x' WHERE id = 1")
	e.exec("DELETE FROM extra WHERE id = 1") // a child of post: cascades go down, not up
	e.kept("SELECT * FROM label ORDER BY id")
	e.kept("SELECT * FROM category ORDER BY id")
}

// A failed write changes nothing and invalidates nothing.
func TestRejectedWriteInvalidatesNothing(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	e.cached("SELECT * FROM label ORDER BY id")
	e.outOfBand("UPDATE label SET text = 'oob' WHERE id = 1")
	if _, err := e.db.Exec("INSERT INTO label(id, text) VALUES (1, 'duplicate')"); err == nil {
		t.Fatal("expected a unique violation")
	}
	e.kept("SELECT * FROM label ORDER BY id")
}

// Scenario 36: the caller gets exactly its RETURNING columns and the right
// RowsAffected.
func TestReturningAndRowsAffected(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	rs, err := e.db.Query("UPDATE post SET title = 'r' WHERE category_id = 3 RETURNING title")
	if err != nil {
		t.Fatal(err)
	}
	cols, _ := rs.Columns()
	n := 0
	for rs.Next() {
		n++
	}
	rs.Close()
	if len(cols) != 1 || cols[0] != "title" || n != 2 {
		t.Fatalf("columns %v, rows %d", cols, n)
	}
	res, err := e.db.Exec("UPDATE post SET title = 'x' WHERE id IN (1, 2)")
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := res.RowsAffected(); n != 2 {
		t.Fatalf("RowsAffected %d", n)
	}
}

// A new table earlier on search_path changes what an unqualified name means:
// creating it must invalidate reads of the old one.
func TestCreatingAShadowingTableInvalidates(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	shadow := e.schema + "_shadow"
	e.outOfBand("DROP SCHEMA IF EXISTS " + shadow + " CASCADE")
	t.Cleanup(func() { e.outOfBand("DROP SCHEMA IF EXISTS " + shadow + " CASCADE") })
	path := shadow + "," + e.schema
	db, err := e.cache.OpenDB(withSearchPath(testDSN(), path))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	direct, err := sql.Open("pgx", withSearchPath(testDSN(), path))
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	q := "SELECT count(*) FROM brand"
	rows(t, db, q)
	if got := rows(t, db, q); got != "2" {
		t.Fatalf("got %q", got)
	}
	mustExec(t, db, "CREATE SCHEMA "+shadow+"; CREATE TABLE "+shadow+".brand (id int)")
	if got, want := rows(t, db, q), rows(t, direct, q); got != want || got != "0" {
		t.Fatalf("stale read after a shadowing table: %q, database %q", got, want)
	}
}

// DDL run by another process (here: another Cache on the same Redis) makes
// this process reload its catalog before it caches again: a table that gained
// row level security elsewhere is not cached here any more.
func TestDDLElsewhereRefreshesTheCatalog(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	q := "SELECT count(*) FROM label"
	e.cached(q)
	other, err := cacheops.New(cacheops.Options{Redis: e.rdb, Prefix: e.cachePrefix()})
	if err != nil {
		t.Fatal(err)
	}
	db, err := other.OpenDB(withSearchPath(testDSN(), e.schema))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	mustExec(t, db, "ALTER TABLE label ENABLE ROW LEVEL SECURITY")
	before := e.cache.Stats()
	for i := 0; i < 3; i++ {
		e.read(q)
	}
	if after := e.cache.Stats(); after.Hits != before.Hits || after.Stores != before.Stores {
		t.Fatalf("a table with row level security was cached after DDL elsewhere: %+v → %+v", before, after)
	}
}

// Writes made outside cacheops are invalidated by hand: a table (and what
// depends on it), or the whole database.
func TestManualInvalidation(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	byPost := "SELECT title FROM post WHERE id = 1"
	byLabel := "SELECT text FROM label WHERE id = 1"
	e.cached(byPost)
	e.cached(byLabel)
	e.outOfBand("UPDATE post SET title = 'oob' WHERE id = 1; UPDATE label SET text = 'oob' WHERE id = 1")
	if err := cacheops.InvalidateTables(e.ctx, e.db, "post"); err != nil {
		t.Fatal(err)
	}
	e.fresh(byPost)
	e.kept(byLabel)
	if err := cacheops.InvalidateAll(e.ctx, e.db); err != nil {
		t.Fatal(err)
	}
	e.fresh(byLabel)
	if err := cacheops.InvalidateTables(e.ctx, e.db, "no_such_table"); err == nil {
		t.Fatal("an unknown table must be an error")
	}
	if err := cacheops.InvalidateTables(e.ctx, e.direct, "post"); !errors.Is(err, cacheops.ErrNotCacheops) {
		t.Fatalf("got %v", err)
	}
}

// rawConn is another library's wrapper around cacheops' connection
// (otelsql's shape: the wrapped connection through Raw, or Unwrap).
type rawConn struct{ driver.Conn }

func (r rawConn) Raw() driver.Conn { return r.Conn }

type unwrapConn struct{ driver.Conn }

func (u unwrapConn) Unwrap() driver.Conn { return u.Conn }

type wrappingConnector struct {
	driver.Connector
	layers int
}

func (w wrappingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	c, err := w.Connector.Connect(ctx)
	for i := 0; err == nil && i < w.layers; i++ {
		if i%2 == 0 {
			c = rawConn{Conn: c}
		} else {
			c = unwrapConn{c}
		}
	}
	return c, err
}

// Manual invalidation finds cacheops under other wrappers.
func TestManualInvalidationThroughWrappers(t *testing.T) {
	e := newFixture(t)
	cfg, err := pgx.ParseConfig(withSearchPath(testDSN(), e.schema))
	if err != nil {
		t.Fatal(err)
	}
	const q = "SELECT title FROM post WHERE id = 1"
	for layers := 1; layers <= 3; layers++ {
		wrapped := sql.OpenDB(wrappingConnector{e.cache.WrapConnector(stdlib.GetConnector(*cfg)), layers})
		e.cached(q)
		e.outOfBand("UPDATE post SET title = title || '!' WHERE id = 1")
		if err := cacheops.InvalidateTables(e.ctx, wrapped, "post"); err != nil {
			t.Fatalf("%d wrappers: %v", layers, err)
		}
		e.fresh(q)
		e.cached(q)
		e.outOfBand("UPDATE post SET title = title || '!' WHERE id = 1")
		if err := cacheops.InvalidateAll(e.ctx, wrapped); err != nil {
			t.Fatalf("%d wrappers: %v", layers, err)
		}
		e.fresh(q)
		wrapped.Close()
	}
	plain := sql.OpenDB(wrappingConnector{stdlib.GetConnector(*cfg), 2})
	defer plain.Close()
	if err := cacheops.InvalidateAll(e.ctx, plain); !errors.Is(err, cacheops.ErrNotCacheops) {
		t.Fatalf("a wrapper around plain pgx: %v", err)
	}
}
