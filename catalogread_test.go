package cacheops_test

import (
	"testing"
)

// The catalog is read in a transaction of its own with JIT off (SET
// LOCAL): afterwards the session's own jit setting is what the caller set,
// no transaction is left open, and the reads it planned cache as usual.
func TestCatalogReadLeavesTheSessionAsItWas(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	e.db.SetMaxOpenConns(1)
	for _, setting := range []string{"on", "off", "on"} {
		e.exec("SET jit = " + setting)
		e.exec("CREATE TABLE IF NOT EXISTS reloaded_" + setting + " (id int)") // the catalog is reloaded at the next statement
		e.cached(post1, 1)
		if got := e.read("SHOW jit"); got != setting {
			t.Fatalf("jit is %q after a catalog read, the session set %q", got, setting)
		}
		// The catalog's transaction is read-only: were it left open, this
		// statement would run in it.
		if got := e.read("SELECT current_setting('transaction_read_only')"); got != "off" {
			t.Fatalf("the catalog's transaction was left open: read only %s", got)
		}
	}
	// A transaction of the caller's own still begins and commits cleanly.
	tx, err := e.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("UPDATE post SET title = 'in tx' WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	e.fresh(post1, 1)
}
