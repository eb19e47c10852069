package cacheops_test

import (
	"database/sql"
	"fmt"
	"strings"
	"testing"
)

// ownRole creates a login role named after the test's schema, dropped with
// everything granted to it when the test ends.
func ownRole(t *testing.T, e *env) string { return namedRole(t, e, "_w") }

// namedRole is ownRole with a suffix of the caller's (several per test).
func namedRole(t *testing.T, e *env, suffix string) string {
	role := e.schema + suffix
	e.outOfBand(fmt.Sprintf(`DROP ROLE IF EXISTS %[1]s; CREATE ROLE %[1]s LOGIN; GRANT USAGE ON SCHEMA %[2]s TO %[1]s`, role, e.schema))
	t.Cleanup(func() {
		e.direct.Exec(fmt.Sprintf("DROP OWNED BY %[1]s; DROP ROLE IF EXISTS %[1]s", role))
	})
	return role
}

func (e *env) openAs(t *testing.T, role string) *sql.DB {
	db, err := e.cache.OpenDB(withUser(t, withSearchPath(testDSN(), e.schema), role))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// The hidden RETURNING needs SELECT privilege and passes row security's
// SELECT policies: a write PostgreSQL accepts must succeed through cacheops
// all the same, and still invalidate.
func TestWritesWithoutSelectPrivilege(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	role := ownRole(t, e)
	e.outOfBand(fmt.Sprintf(`CREATE TABLE doc (id int PRIMARY KEY, owner text, body text);
INSERT INTO doc VALUES (1, 'a', 'one'), (2, 'a', 'two');
CREATE TABLE inbox (id int, body text);
CREATE TABLE secret (id int PRIMARY KEY, owner text, body text);
ALTER TABLE secret ENABLE ROW LEVEL SECURITY;
CREATE POLICY ins ON secret FOR INSERT WITH CHECK (true);
CREATE POLICY sel ON secret FOR SELECT USING (owner = current_user);
GRANT INSERT ON inbox TO %[1]s;
GRANT SELECT (id), UPDATE (body) ON doc TO %[1]s;
GRANT SELECT, INSERT ON secret TO %[1]s`, role))
	db := e.openAs(t, role)
	cases := []struct{ read, write string }{
		{"SELECT count(*) FROM inbox", "INSERT INTO inbox VALUES (1, 'hi')"},
		{"SELECT body FROM doc WHERE id = 1", "UPDATE doc SET body = 'new' WHERE id = 1"},
		{"", "INSERT INTO secret VALUES (1, 'somebody else', 'hidden')"}, // row security: never cached
	}
	for _, c := range cases {
		if c.read != "" {
			e.cached(c.read)
		}
		for i := 0; i < 2; i++ { // and again, with the plan kept
			if _, err := db.Exec(strings.Replace(c.write, "(1,", fmt.Sprintf("(%d,", 10+i), 1)); err != nil {
				t.Fatalf("%s: PostgreSQL accepts it, cacheops failed it: %v", c.write, err)
			}
			if c.read != "" {
				e.fresh(c.read)
			}
		}
	}
	// What the role may read is still captured: other rows stay cached.
	q := "SELECT body FROM doc WHERE id = 2"
	e.cached(q)
	e.outOfBand("UPDATE doc SET owner = 'b', body = 'changed behind the cache' WHERE id = 2")
	mustExec(t, db, "UPDATE doc SET body = 'again' WHERE id = 1")
	e.kept(q)
	// Prepared statements and Query take the same care.
	st, err := db.Prepare("UPDATE doc SET body = $1 WHERE id = $2")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.Exec("prepared", 1); err != nil {
		t.Fatal(err)
	}
	rs, err := db.Query("INSERT INTO inbox VALUES (2, 'q')")
	if err != nil {
		t.Fatal(err)
	}
	rs.Close()
}

// ALTER COLUMN … TYPE changes the result type of a write's hidden RETURNING:
// a prepared capture must not fail the next write, whether the change was
// made outside cacheops (retried as written) or through it (a new text once
// the catalog is reloaded, also inside a transaction, where no retry is
// possible).
func TestWritesAfterAColumnChangesType(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	e.db.SetMaxOpenConns(1)
	w := "UPDATE post SET title = $1 WHERE id = $2"
	q := "SELECT title, category_id FROM post WHERE id = 1"
	e.exec(w, "before", 1)
	e.outOfBand("ALTER TABLE post ALTER COLUMN category_id TYPE bigint")
	e.cached(q)
	e.exec(w, "after, outside", 1)
	e.fresh(q)
	e.exec(w, "prepared again with bigint", 1)
	// Through another process: this one learns of it on its next lookup.
	mustExec(t, e.otherProcess().db, "ALTER TABLE post ALTER COLUMN category_id TYPE int")
	e.read("SELECT count(*) FROM brand")
	tx, err := e.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(w, "after, in a transaction", 1); err != nil {
		t.Fatalf("in a transaction: %v", err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// (q itself, prepared while the column was bigint, now fails on this
	// connection as it would through pgx: its own result type changed.)
	e.fresh("SELECT title FROM post WHERE id = 1")
}
