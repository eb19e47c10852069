package cacheops_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/cacheops/cacheops"
	"github.com/cacheops/cacheops/internal/testenv"
)

// hitsAgain waits until a read of q is a hit of cache.
func hitsAgain(t *testing.T, cache *cacheops.Cache, db querier, within time.Duration, q string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		hits := cache.Stats().Hits
		if _, err := readRows(db, q, args...); err == nil && cache.Stats().Hits > hits {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no hit within %v (stats %+v)", q, within, cache.Stats())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A watcher that stops (or falls behind) stops the hits of every process
// reading its database once its heartbeat is older than WatchMaxLag: a
// write made outside cacheops meanwhile is read fresh within the bound. A
// process that does not wait (WatchMaxLag < 0) still serves the stale
// entry, which proves the bound is what made the other one fresh. When the
// watcher is back hits resume; once it is uninstalled nobody waits for it.
func TestWatchMaxLagStopsHits(t *testing.T) {
	dsn, direct := logicalServer(t, `CREATE TABLE post (id int PRIMARY KEY, title text NOT NULL); INSERT INTO post VALUES (1, 'one'), (2, 'two')`)
	prefix := testenv.Prefix(t, fmt.Sprintf("watchlag_%d", time.Now().UnixNano()))
	var mu sync.Mutex
	var lags []time.Duration
	hooks := cacheops.Hooks{Watch: func(_ context.Context, e cacheops.Event) {
		mu.Lock()
		lags = append(lags, e.Duration)
		mu.Unlock()
	}}
	const maxLag = 500 * time.Millisecond
	cache, db := testenv.Open(t, cacheops.Options{RedisURL: testRedisURL(), Prefix: prefix, WatchMaxLag: maxLag, Hooks: hooks}, dsn)
	_, loose := testenv.Open(t, cacheops.Options{RedisURL: testRedisURL(), Prefix: prefix, WatchMaxLag: -1}, dsn)
	q := "SELECT title FROM post WHERE id = $1"

	stop := watching(t, db, direct, dsn)
	rows(t, db, q, 1)
	deadline := time.Now().Add(5 * time.Second)
	for cache.Stats().WatchLag == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the watcher's heartbeat was never seen")
		}
		time.Sleep(20 * time.Millisecond)
	}
	hitsAgain(t, cache, db, 3*time.Second, q, 1) // the watcher keeps up: hits
	rows(t, loose, q, 1)
	mustExec(t, direct, "UPDATE post SET title = 'watched' WHERE id = 2")
	caughtUp(t, direct)
	mu.Lock()
	if len(lags) == 0 || lags[len(lags)-1] <= 0 || lags[len(lags)-1] > 10*time.Second {
		t.Errorf("Hooks.Watch: lags %v", lags)
	}
	mu.Unlock()

	stop() // the watcher is gone: its heartbeat ages
	mustExec(t, direct, "UPDATE post SET title = 'outside' WHERE id = 1")
	eventually(t, db, direct, maxLag+2*time.Second, q, 1)
	if cache.Stats().WatchBehind == 0 {
		t.Fatal("the fresh read did not come from the lag bound")
	}
	time.Sleep(maxLag)
	if got := rows(t, loose, q, 1); got != "one" {
		t.Fatalf("a process that does not wait read %q: the test proves nothing", got)
	}

	stop = watching(t, db, direct, dsn) // back: it delivers what it missed
	eventually(t, loose, direct, 5*time.Second, q, 1)
	hitsAgain(t, cache, db, 5*time.Second, q, 1)
	stop()
	if err := cacheops.UnwatchDatabase(context.Background(), db, dsn, cacheops.WatchOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(maxLag + 300*time.Millisecond)
	hitsAgain(t, cache, db, time.Second, q, 1) // no heartbeat: nothing to wait for
	if lag := cache.Stats().WatchLag; lag != 0 {
		t.Fatalf("an uninstalled watcher still has a lag: %v", lag)
	}
}
