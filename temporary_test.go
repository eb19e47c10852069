package cacheops_test

import (
	"testing"
)

// Temporary objects are visible to their own session only: creating,
// altering and dropping them invalidates nothing and reloads no catalog.
func TestTemporaryObjectsAreExempt(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	q := "SELECT title FROM post WHERE id = 1"
	e.cached(q)
	conn, err := e.db.Conn(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	loads := e.cache.Stats().CatalogLoads
	for _, s := range []string{
		"CREATE TEMP TABLE scratch (id int PRIMARY KEY)",
		"ALTER TABLE scratch ADD COLUMN x int",
		"CREATE INDEX ON scratch (x)",
		"INSERT INTO scratch VALUES (1, 2)",
		"CREATE TEMP VIEW scratch_view AS SELECT * FROM scratch",
		"CREATE TEMP SEQUENCE scratch_seq",
		"DROP SEQUENCE scratch_seq",
		"DROP TABLE scratch CASCADE",
		"CREATE TEMP TABLE scratch2 (id int)",
		"DROP TABLE pg_temp.scratch2",
	} {
		mustExec(t, onConn{conn}, s)
	}
	e.outOfBand("UPDATE post SET title = 'changed behind the cache' WHERE id = 1")
	e.kept(q)
	if got := e.cache.Stats().CatalogLoads; got != loads {
		t.Fatalf("temporary objects reloaded the catalog %d times", got-loads)
	}
}

// A temporary table with a trigger: writes to it may change any table.
func TestTemporaryTableTriggersAreWrites(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	e.outOfBand(`CREATE FUNCTION forward() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN UPDATE post SET title = 'from a temporary table' WHERE id = 1; RETURN NEW; END $$`)
	q := "SELECT title FROM post WHERE id = 1"
	conn, err := e.db.Conn(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	mustExec(t, onConn{conn}, "CREATE TEMP TABLE inbox (id int)")
	mustExec(t, onConn{conn}, "CREATE TRIGGER forward AFTER INSERT ON inbox FOR EACH ROW EXECUTE FUNCTION forward()")
	e.cached(q)
	mustExec(t, onConn{conn}, "INSERT INTO inbox VALUES (1)")
	e.fresh(q)
}
