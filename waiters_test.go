package cacheops_test

import (
	"context"
	"testing"
	"time"

	"github.com/cacheops/cacheops"
)

// lockTable holds an exclusive lock on a table until the returned function
// is called, so that a query of it waits.
func lockTable(t *testing.T, e *env, table string) func() {
	tx, err := e.direct.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("LOCK TABLE " + table + " IN ACCESS EXCLUSIVE MODE"); err != nil {
		t.Fatal(err)
	}
	return func() { tx.Rollback() }
}

// waitingOnLock waits until n sessions wait for a lock running q.
func waitingOnLock(t *testing.T, e *env, q string, n int) {
	waitFor(t, func() bool {
		var got int
		e.direct.QueryRow("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query = $1", q).Scan(&got)
		return got >= n
	})
}

// A caller that joins another caller's miss leaves when its own deadline
// passes, not when the leader's query ends.
func TestMissWaiterHonoursItsOwnDeadline(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	release := lockTable(t, e, "post")
	defer release()
	q := "SELECT count(*) FROM post"
	leader := make(chan error, 1)
	go func() {
		var n int
		leader <- e.db.QueryRow(q).Scan(&n)
	}()
	waitingOnLock(t, e, q, 1)
	guard := time.AfterFunc(5*time.Second, release) // without the fix the waiter waits for this
	defer guard.Stop()
	ctx, cancel := context.WithTimeout(e.ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	var n int
	err := e.db.QueryRowContext(ctx, q).Scan(&n)
	if elapsed := time.Since(start); err == nil || elapsed > 3*time.Second {
		t.Fatalf("the waiter returned %v after %v; its deadline was 200ms", err, elapsed)
	}
	release()
	if err := <-leader; err != nil {
		t.Fatal(err)
	}
}

// A process waiting for another's fill stops waiting when the holder
// releases the lock without storing (its result had too many rows).
func TestFillLockWaiterStopsWhenTheHolderGivesUp(t *testing.T) {
	t.Parallel()
	opts := func(o *cacheops.Options) { o.FillLock, o.FillLockWait, o.MaxRows = true, 10*time.Second, 2 }
	e := newFixture(t, opts)
	other := e.otherProcess(opts)
	release := lockTable(t, e, "post")
	defer release()
	q := "SELECT id FROM post ORDER BY id" // three rows: more than MaxRows
	done := make(chan string, 2)
	go func() { done <- rows(t, e.db, q) }()
	waitingOnLock(t, e, q, 1)
	go func() { done <- rows(t, other.db, q) }()
	waitFor(t, func() bool { return other.cache.Stats().LockWaits == 1 })
	release()
	start := time.Now()
	for i := 0; i < 2; i++ {
		if got := <-done; got != "1|2|3" {
			t.Fatalf("read %q", got)
		}
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Fatalf("the waiter waited %v for a lock released without an entry", elapsed)
	}
}
