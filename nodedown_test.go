package cacheops_test

import (
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/cacheops/cacheops"
)

// One master of a cluster goes down, and a process's circuit breaker opens
// after its reads of a table on that master failed. That process's writes
// to tables on the masters that answer must still reach them before the
// writes return: another process reads them from there. (With one breaker
// for the whole cluster they were kept for a second, and the other process
// served stale rows meanwhile: the cluster torture found it.)
func TestClusterNodeDownHoldsBackNoOtherInvalidation(t *testing.T) {
	t.Parallel()
	cluster := startCluster(t)
	e := newEnv(t)
	const tables = 30 // one of them, at least, has its bucket on the master stopped
	var ddl strings.Builder
	for i := range tables {
		fmt.Fprintf(&ddl, "CREATE TABLE side%d (id int PRIMARY KEY); INSERT INTO side%d VALUES (1);", i, i)
	}
	e.outOfBand(ddl.String() + "CREATE TABLE hot (id int PRIMARY KEY, v int); INSERT INTO hot VALUES (1, 1)")
	prefix := e.prefix + "nodedown:"
	open := func() (*cacheops.Cache, *sql.DB) {
		cache, err := cacheops.New(cacheops.Options{RedisURL: cluster.url(), Prefix: prefix,
			RedisTimeout: 500 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cache.Close() })
		db, err := cache.OpenDB(withSearchPath(testDSN(), e.schema))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return cache, db
	}
	writer, wdb := open()
	reader, rdb := open()
	read := func(db *sql.DB) string { return rows(t, db, "SELECT v FROM hot WHERE id = $1", 1) }
	for range 2 {
		read(wdb)
		if got := read(rdb); got != "1" {
			t.Fatalf("read %q", got)
		}
	}
	cacheops.SettleForTesting()
	if reader.Stats().Hits == 0 {
		t.Fatal("the reader does not hit: the test proves nothing")
	}
	// Stop a master that holds none of hot's keys (its entry among them).
	var dead *redisServer
	for _, n := range cluster.nodes {
		c := n.client()
		keys, err := c.Keys(e.ctx, prefix+"*").Result()
		c.Close()
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(keys, " "), "e:") {
			dead = n
			break
		}
	}
	if dead == nil {
		t.Fatal("every master holds an entry of hot's")
	}
	dead.stop()
	for i := 0; i < tables && !writer.Stats().BreakerOpen; i++ {
		for range 6 {
			rows(t, wdb, fmt.Sprintf("SELECT id FROM side%d WHERE id = 1", i))
		}
	}
	if !writer.Stats().BreakerOpen {
		t.Fatal("the writer's breaker did not open with a master down")
	}
	start := time.Now()
	mustExec(t, wdb, "UPDATE hot SET v = 2 WHERE id = 1")
	if took := time.Since(start); took > 400*time.Millisecond {
		t.Errorf("the write took %v: it waited for the dead master", took)
	}
	if got := read(rdb); got != "2" {
		t.Fatalf("the other process read %q after the write returned: its invalidation was held back", got)
	}
}
