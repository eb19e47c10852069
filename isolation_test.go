package cacheops_test

import (
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cacheops/cacheops"
)

// withUser returns dsn with another user.
func withUser(t *testing.T, dsn, user string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.User(user)
	return u.String()
}

func withDatabase(t *testing.T, dsn, db string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + db
	return u.String()
}

// ensureRoles creates two login roles of the test's own (dropped when it
// ends): reader may read post, nobody may not; the test's user is a member
// of nobody (for SET ROLE).
func ensureRoles(t *testing.T, e *env) (reader, nobody string) {
	reader, nobody = namedRole(t, e, "_r"), namedRole(t, e, "_n")
	e.outOfBand(fmt.Sprintf(`GRANT SELECT ON %[1]s.post TO %[2]s; GRANT %[3]s TO CURRENT_USER`, e.schema, reader, nobody))
	return reader, nobody
}

func permissionDenied(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "42501"
}

// A role never reads another role's entry: the unprivileged one gets
// PostgreSQL's permission error, through its own login and through SET ROLE
// on a pooled connection.
func TestRolesNeverShareEntries(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	readerRole, nobodyRole := ensureRoles(t, e)
	q := "SELECT title FROM post WHERE id = 1"
	reader, err := e.cache.OpenDB(withUser(t, withSearchPath(testDSN(), e.schema), readerRole))
	if err != nil {
		t.Fatal(err)
	}
	defer reader.Close()
	rows(t, reader, q)
	rows(t, reader, q) // cached for the reader
	nobody, err := e.cache.OpenDB(withUser(t, withSearchPath(testDSN(), e.schema), nobodyRole))
	if err != nil {
		t.Fatal(err)
	}
	defer nobody.Close()
	if _, err := nobody.Query(q); !permissionDenied(err) {
		t.Fatalf("another role's entry was served: %v", err)
	}

	// SET ROLE on a pooled connection, and back.
	e.db.SetMaxOpenConns(1)
	e.cached(q)
	e.exec("SET ROLE " + nobodyRole)
	if _, err := e.db.Query(q); !permissionDenied(err) {
		t.Fatalf("after SET ROLE the entry of the previous role was served: %v", err)
	}
	e.exec("RESET ROLE")
	e.hit("Cacheops", q)
	e.exec("SET SESSION AUTHORIZATION " + nobodyRole)
	if _, err := e.db.Query(q); !permissionDenied(err) {
		t.Fatalf("after SET SESSION AUTHORIZATION the entry of the previous role was served: %v", err)
	}
	e.exec("RESET SESSION AUTHORIZATION")
	e.hit("Cacheops", q)
}

// Two search_paths with same-named tables each read their own; DISCARD ALL
// and RESET ALL bring a pooled connection back to its defaults.
func TestSearchPathsKeepTheirOwnEntries(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	other := e.schema + "_other"
	e.outOfBand(fmt.Sprintf(`DROP SCHEMA IF EXISTS %[1]s CASCADE; CREATE SCHEMA %[1]s;
CREATE TABLE %[1]s.post (id int PRIMARY KEY, title text); INSERT INTO %[1]s.post VALUES (1, 'other schema')`, other))
	t.Cleanup(func() { e.outOfBand("DROP SCHEMA IF EXISTS " + other + " CASCADE") })
	q := "SELECT title FROM post WHERE id = 1"
	otherDB, err := e.cache.OpenDB(withSearchPath(testDSN(), other))
	if err != nil {
		t.Fatal(err)
	}
	defer otherDB.Close()
	e.cached(q)
	for i := 0; i < 2; i++ {
		if got := rows(t, otherDB, q); got != "other schema" {
			t.Fatalf("search_path %s read %q", other, got)
		}
	}
	e.hit("Cacheops", q)

	e.db.SetMaxOpenConns(1)
	for _, reset := range []string{"DISCARD ALL", "RESET ALL", "RESET search_path"} {
		e.exec("SET search_path = " + other)
		if got := e.read(q); got != "other schema" {
			t.Fatalf("after SET search_path: %q", got)
		}
		e.exec(reset)
		if reset == "DISCARD ALL" {
			// pgx's statement cache now names deallocated statements: the
			// next query fails once, exactly as it does without cacheops.
			e.db.Query(q)
		}
		if got := e.read(q); got != "Cacheops" {
			t.Fatalf("after %s: %q", reset, got)
		}
	}
}

// Tables with row level security are never cached: two tenants on one role
// read their own rows.
func TestRowLevelSecurityIsNeverCached(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	reader := ensureRolesForSchema(t, e)
	e.outOfBand(`CREATE TABLE doc (id int, tenant text, body text);
INSERT INTO doc VALUES (1, 'a', 'for a'), (2, 'b', 'for b');
ALTER TABLE doc ENABLE ROW LEVEL SECURITY; ALTER TABLE doc FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON doc USING (tenant = current_setting('app.tenant', true))`)
	e.outOfBand("GRANT SELECT ON doc TO " + reader)
	db, err := e.cache.OpenDB(withUser(t, withSearchPath(testDSN(), e.schema), reader))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, tenant := range []string{"a", "b", "a"} {
		mustExec(t, db, "SELECT set_config('app.tenant', $1, false)", tenant)
		if got := rows(t, db, "SELECT body FROM doc ORDER BY id"); got != "for "+tenant {
			t.Fatalf("tenant %s read %q", tenant, got)
		}
	}
	if s := e.cache.Stats(); s.Hits != 0 || s.Stores != 0 {
		t.Fatalf("a table with row level security was cached: %+v", s)
	}
}

func ensureRolesForSchema(t *testing.T, e *env) string { return namedRole(t, e, "_r") }

// Two databases behind one Redis and one prefix never collide.
func TestTwoDatabasesBehindOneRedis(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	admin, err := sql.Open("pgx", testDSN())
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	// A database of the test's own, named after the test database.
	var name string
	if err := admin.QueryRow("SELECT current_database() || '_second'").Scan(&name); err != nil {
		t.Fatal(err)
	}
	admin.Exec("DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize() + " WITH (FORCE)")
	if _, err := admin.Exec("CREATE DATABASE " + pgx.Identifier{name}.Sanitize()); err != nil {
		t.Fatal(err)
	}
	second := withSearchPath(withDatabase(t, testDSN(), name), e.schema)
	direct2, err := sql.Open("pgx", second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		direct2.Close()
		admin, err := sql.Open("pgx", testDSN())
		if err == nil {
			admin.Exec("DROP DATABASE IF EXISTS " + pgx.Identifier{name}.Sanitize() + " WITH (FORCE)")
			admin.Close()
		}
	})
	mustExec(t, direct2, fmt.Sprintf(`CREATE SCHEMA %[1]s;
CREATE TABLE %[1]s.post (id int PRIMARY KEY, title text); INSERT INTO %[1]s.post VALUES (1, 'second database')`, e.schema))
	db2, err := e.cache.OpenDB(second)
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	q := "SELECT title FROM post WHERE id = 1"
	e.cached(q)
	for i := 0; i < 2; i++ {
		if got := rows(t, db2, q); got != "second database" {
			t.Fatalf("the second database read %q", got)
		}
	}
	mustExec(t, db2, "UPDATE post SET title = 'changed in the second' WHERE id = 1")
	e.outOfBand("UPDATE post SET title = 'oob' WHERE id = 1")
	e.kept(q) // a write in one database invalidates nothing in the other
	if got := rows(t, db2, q); got != "changed in the second" {
		t.Fatalf("got %q", got)
	}
}

// A table with row level security named in Options.RowSecurity with the
// settings its policy reads is cached per value of those settings: two
// tenants on one role and one pooled connection each read their own rows,
// from the cache.
func TestRowSecurityOptionCachesPerTenant(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *cacheops.Options) { o.RowSecurity = map[string][]string{"doc": {"app.tenant"}} })
	reader := ensureRolesForSchema(t, e)
	e.outOfBand(`CREATE TABLE doc (id int, tenant text, body text);
INSERT INTO doc VALUES (1, 'a', 'for a'), (2, 'b', 'for b');
ALTER TABLE doc ENABLE ROW LEVEL SECURITY; ALTER TABLE doc FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant ON doc USING (tenant = current_setting('app.tenant', true))`)
	e.outOfBand("GRANT SELECT, UPDATE ON doc TO " + reader)
	db, err := e.cache.OpenDB(withUser(t, withSearchPath(testDSN(), e.schema), reader))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	q := "SELECT body FROM doc ORDER BY id"
	for _, tenant := range []string{"a", "b", "a", "b", "a"} {
		mustExec(t, db, "SET app.tenant = '"+tenant+"'")
		if got := rows(t, db, q); got != "for "+tenant {
			t.Fatalf("tenant %s read %q", tenant, got)
		}
	}
	if s := e.cache.Stats(); s.Hits != 3 || s.Stores != 2 {
		t.Fatalf("want two entries (one per tenant) and three hits: %+v", s)
	}
	mustExec(t, db, "SET app.tenant = 'a'")
	mustExec(t, db, "UPDATE doc SET body = 'changed for a' WHERE id = 1")
	if got := rows(t, db, q); got != "changed for a" {
		t.Fatalf("stale after a write: %q", got)
	}
}
