package cacheops_test

import (
	"context"
	"database/sql"
	"testing"
)

const post1 = "SELECT id, title FROM post WHERE id = $1"

// Scenario 30: a transaction sees its own write; other connections see the
// committed value until COMMIT; everyone sees the write after COMMIT.
func TestTransactionWriteIsInvisibleToOthersUntilCommit(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	e.cached(post1, 1)
	tx, err := e.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	mustExec(t, tx, "UPDATE post SET title = 'in tx' WHERE id = 1")
	if got := rows(t, tx, post1, 1); got != "1in tx" {
		t.Fatalf("the transaction must see its own write, got %q", got)
	}
	e.hit("1Cacheops", post1, 1)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := e.read(post1, 1); got != "1in tx" {
		t.Fatalf("after COMMIT everyone sees the write, got %q", got)
	}
}

// Scenario 31: ROLLBACK leaves the cache untouched.
func TestRollbackLeavesTheCacheUntouched(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	e.cached(post1, 1)
	tx, err := e.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, tx, "UPDATE post SET title = 'rolled back' WHERE id = 1")
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	e.outOfBand("UPDATE post SET title = 'out of band' WHERE id = 1")
	e.kept(post1, 1)
}

// A write inside a transaction reaches the cache only through COMMIT: an
// invalidation run at the time of the write would let another connection
// refill the entry from the old committed row before COMMIT.
func TestInvalidationWaitsForCommit(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	e.cached(post1, 1)
	tx, err := e.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	mustExec(t, tx, "UPDATE post SET title = 'in tx' WHERE id = 1")
	e.hit("1Cacheops", post1, 1) // nothing invalidated yet: served from the cache
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	e.fresh(post1, 1)
}

// Scenario 32: savepoints.
func TestSavepointRollbackThenCommit(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	e.cached(post1, 1)
	e.cached(post1, 2)
	conn, err := e.db.Conn(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{"BEGIN", "SAVEPOINT a", "UPDATE post SET title = 'one' WHERE id = 1",
		"ROLLBACK TO a", "UPDATE post SET title = 'two' WHERE id = 2", "COMMIT"} {
		if _, err := conn.ExecContext(e.ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	e.fresh(post1, 1)
	e.fresh(post1, 2)
	if got := e.read(post1, 2); got != "2two" {
		t.Fatalf("got %q", got)
	}
}

// Transactions written as SQL are tracked like BeginTx.
func TestTransactionsWrittenAsSQL(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	e.cached(post1, 1)
	conn, err := e.db.Conn(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	defer conn.ExecContext(e.ctx, "ROLLBACK")
	exec := func(q string) {
		if _, err := conn.ExecContext(e.ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec("BEGIN")
	exec("UPDATE post SET title = 'sql tx' WHERE id = 1")
	if got := rows(t, onConn{conn}, post1, 1); got != "1sql tx" {
		t.Fatalf("a dirty SQL transaction must bypass the cache, got %q", got)
	}
	e.hit("1Cacheops", post1, 1)
	exec("COMMIT")
	e.fresh(post1, 1)

	exec("START TRANSACTION")
	exec("UPDATE post SET title = 'never' WHERE id = 1")
	exec("ROLLBACK")
	e.cached(post1, 1)
	e.outOfBand("UPDATE post SET title = 'oob' WHERE id = 1")
	e.kept(post1, 1)
}

// Scenario 33 and its dirty counterpart.
func TestCleanTransactionHitsDirtyTransactionBypasses(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	e.cached(post1, 1)
	e.outOfBand("UPDATE post SET title = 'oob' WHERE id = 1")
	tx, err := e.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	hits := e.cache.Stats().Hits
	if got := rows(t, tx, post1, 1); got != "1Cacheops" || e.cache.Stats().Hits != hits+1 {
		t.Fatalf("a clean transaction reads the cache, got %q", got)
	}
	mustExec(t, tx, "UPDATE post SET visible = false WHERE id = 3")
	if got := rows(t, tx, post1, 1); got != "1oob" {
		t.Fatalf("a dirty transaction must bypass the cache, got %q", got)
	}
}

// Scenario 34, for a level asked for and for the server's default.
func TestRepeatableReadAndSerializableBypass(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	e.cached(post1, 1)
	e.outOfBand("UPDATE post SET title = 'oob' WHERE id = 1")
	for _, level := range []sql.IsolationLevel{sql.LevelRepeatableRead, sql.LevelSerializable} {
		tx, err := e.db.BeginTx(e.ctx, &sql.TxOptions{Isolation: level})
		if err != nil {
			t.Fatal(err)
		}
		if got := rows(t, tx, post1, 1); got != "1oob" {
			t.Fatalf("%v: read from the cache: %q", level, got)
		}
		tx.Rollback()
	}
	conn, err := e.db.Conn(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{"SET default_transaction_isolation = 'repeatable read'", "BEGIN"} {
		if _, err := conn.ExecContext(e.ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	if got := rows(t, onConn{conn}, post1, 1); got != "1oob" {
		t.Fatalf("default isolation repeatable read: read from the cache: %q", got)
	}
	conn.ExecContext(e.ctx, "ROLLBACK")
	tx, err := conn.BeginTx(e.ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := rows(t, tx, post1, 1); got != "1oob" {
		t.Fatalf("BeginTx at the session's default repeatable read: read from the cache: %q", got)
	}
	tx.Rollback()
	conn.ExecContext(e.ctx, "BEGIN ISOLATION LEVEL READ COMMITTED; SET TRANSACTION ISOLATION LEVEL SERIALIZABLE")
	if got := rows(t, onConn{conn}, post1, 1); got != "1oob" {
		t.Fatalf("SET TRANSACTION serializable: read from the cache: %q", got)
	}
	conn.ExecContext(e.ctx, "ROLLBACK")
}

// A failed statement aborts the transaction; the cache must not answer for
// it while PostgreSQL refuses everything.
func TestAbortedTransactionIsNotAnsweredFromTheCache(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	e.cached(post1, 1)
	tx, err := e.db.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("SELECT 1/0"); err == nil {
		t.Fatal("expected division by zero")
	}
	if _, err := tx.Query(post1, 1); err == nil {
		t.Fatal("PostgreSQL rejects reads in an aborted transaction; so must cacheops")
	}
}

// COMMIT AND CHAIN opens the next transaction at once: its writes must wait
// for its own COMMIT, like any transaction's.
func TestCommitAndChain(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	e.cached(post1, 1)
	conn, err := e.db.Conn(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	defer conn.ExecContext(e.ctx, "ROLLBACK")
	for _, q := range []string{"BEGIN", "COMMIT AND CHAIN", "UPDATE post SET title = 'chained' WHERE id = 1"} {
		if _, err := conn.ExecContext(e.ctx, q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	e.hit("1Cacheops", post1, 1) // not invalidated before the chained COMMIT
	if _, err := conn.ExecContext(e.ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	e.fresh(post1, 1)
}
