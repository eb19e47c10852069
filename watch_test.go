package cacheops_test

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops"
	"github.com/cacheops/cacheops/internal/testenv"
)

// logicalServer starts a PostgreSQL with wal_level = logical holding setup
// and returns its DSN and a plain connection to it.
func logicalServer(t *testing.T, setup string) (string, *sql.DB) {
	t.Helper()
	dsn := testenv.LogicalPostgres(t)
	direct, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { direct.Close() })
	mustExec(t, direct, setup)
	return dsn, direct
}

// watching starts a watcher on db and waits until its slot streams; the
// returned function stops it and waits until it has.
func watching(t *testing.T, db, direct *sql.DB, dsn string) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- cacheops.Watch(ctx, db, dsn, cacheops.WatchOptions{StatusEvery: 100 * time.Millisecond})
	}()
	slotActive(t, direct, func() {
		select {
		case err := <-done:
			t.Fatalf("the watcher stopped: %v", err)
		default:
		}
	})
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Watch: %v", err)
			}
		})
	}
	t.Cleanup(stop) // before the server stops, even when the test fails
	return stop
}

// slotActive waits until a watcher streams from the slot, calling check
// while it waits.
func slotActive(t *testing.T, direct *sql.DB, check func()) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var active bool
		direct.QueryRow("SELECT coalesce(bool_or(active), false) FROM pg_replication_slots WHERE slot_name = 'cacheops'").Scan(&active)
		if active {
			return
		}
		check()
		if time.Now().After(deadline) {
			t.Fatal("the watcher's slot never became active")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// caughtUp waits until the watcher has confirmed everything written so
// far: its invalidations have reached Redis.
func caughtUp(t *testing.T, direct *sql.DB) {
	t.Helper()
	var now string
	if err := direct.QueryRow("SELECT pg_current_wal_lsn()::text").Scan(&now); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var done bool
		direct.QueryRow("SELECT coalesce(bool_and(confirmed_flush_lsn >= $1::pg_lsn), false) FROM pg_replication_slots", now).Scan(&done)
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the watcher did not catch up")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// eventually waits for the read through cacheops to equal the database's.
// An error on the way is PostgreSQL's own after a schema change (pgx's
// prepared statement: "cached plan must not change result type"), which
// plain pgx gets too: read again.
func eventually(t *testing.T, db, direct *sql.DB, within time.Duration, q string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got, err1 := readRows(db, q, args...)
		want, err2 := readRows(direct, q, args...)
		if err1 == nil && err2 == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %q after %v, the database has %q", q, got, within, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Writes made outside cacheops — plain pgx, multi-statement SQL, COPY,
// DELETE, TRUNCATE — are seen through cacheops once the watcher has
// delivered them, row by row where the decoding gives rows; with the
// watcher stopped they are not, and when it starts again nothing is lost.
func TestWatchSeesOutsideWrites(t *testing.T) {
	dsn, direct := logicalServer(t, `CREATE TABLE post (id int PRIMARY KEY, title text NOT NULL, category_id int NOT NULL);
INSERT INTO post SELECT g, 'post ' || g, g % 3 FROM generate_series(1, 30) g`)
	prefix := testenv.Prefix(t, fmt.Sprintf("watch_%d", time.Now().UnixNano()))
	cache, db := testenv.Open(t, cacheops.Options{RedisURL: testRedisURL(), Prefix: prefix}, dsn)
	byID := "SELECT title FROM post WHERE id = $1"
	byCategory := "SELECT count(*), max(title) FROM post WHERE category_id = $1"
	cached := func(q string, args ...any) {
		t.Helper()
		rows(t, db, q, args...)
		hits := cache.Stats().Hits
		rows(t, db, q, args...)
		if cache.Stats().Hits != hits+1 {
			t.Fatalf("%s not cached", q)
		}
	}

	stop := watching(t, db, direct, dsn)
	const bound = 3 * time.Second
	for _, c := range []struct {
		name  string
		read  string
		args  []any
		write func()
		kept  []any // a byID read that must stay cached
	}{
		{"update by key", byID, []any{1}, func() { mustExec(t, direct, "UPDATE post SET title = 'u' WHERE id = 1") }, []any{2}},
		{"update moving a row", byCategory, []any{2}, func() { mustExec(t, direct, "UPDATE post SET category_id = 2 WHERE id = 3") }, []any{4}},
		{"multi-statement", byID, []any{5}, func() {
			mustExec(t, direct, "UPDATE post SET title = 'm1' WHERE id = 5; UPDATE post SET title = 'm2' WHERE id = 6")
		}, []any{7}},
		{"COPY", byCategory, []any{0}, func() {
			conn, err := pgx.Connect(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			if _, err := conn.CopyFrom(context.Background(), pgx.Identifier{"post"}, []string{"id", "title", "category_id"},
				pgx.CopyFromRows([][]any{{100, "copied", 0}, {101, "copied", 0}})); err != nil {
				t.Fatal(err)
			}
		}, []any{8}},
		{"delete", byID, []any{9}, func() { mustExec(t, direct, "DELETE FROM post WHERE id = 9") }, []any{10}},
		{"truncate", byID, []any{10}, func() { mustExec(t, direct, "TRUNCATE post") }, nil},
	} {
		caughtUp(t, direct) // the previous case's invalidations have landed
		cached(c.read, c.args...)
		if c.kept != nil {
			cached(byID, c.kept...)
		}
		c.write()
		eventually(t, db, direct, bound, c.read, c.args...)
		if c.kept != nil {
			hits := cache.Stats().Hits
			rows(t, db, byID, c.kept...)
			if cache.Stats().Hits != hits+1 {
				t.Errorf("%s: an unrelated row's entry was invalidated (too coarse)", c.name)
			}
		}
	}

	// Stopped: a write is not seen (the checks above would fail without a
	// watcher) …
	mustExec(t, direct, "INSERT INTO post VALUES (1, 'one', 1), (2, 'two', 2)")
	caughtUp(t, direct) // the INSERT's invalidation must not land between the two reads
	cached(byID, 1)
	stop()
	mustExec(t, direct, "UPDATE post SET title = 'while stopped' WHERE id = 1")
	time.Sleep(500 * time.Millisecond)
	if got := rows(t, db, byID, 1); got != "one" {
		t.Fatalf("without a watcher the write was seen: %q", got)
	}
	// … and is delivered when the watcher starts again: the slot kept it.
	stop = watching(t, db, direct, dsn)
	defer stop()
	eventually(t, db, direct, bound, byID, 1)
}

// At least once: with Redis unreachable the watcher's invalidation is kept
// and its position not confirmed, so a process that dies before Redis is
// back loses nothing — the next watcher decodes the write again.
func TestWatchLosesNothingWhenRedisIsDown(t *testing.T) {
	singleNodeOnly(t)
	dsn, direct := logicalServer(t, `CREATE TABLE post (id int PRIMARY KEY, title text NOT NULL); INSERT INTO post VALUES (1, 'one')`)
	ropts, err := redis.ParseURL(testRedisURL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFaultyProxy(t, ropts.Addr)
	prefix := testenv.Prefix(t, fmt.Sprintf("watchdown_%d", time.Now().UnixNano()))
	open := func(addr string) (*cacheops.Cache, *sql.DB) {
		ro := *ropts
		ro.Addr, ro.MaxRetries, ro.ContextTimeoutEnabled = addr, -1, true
		cache, err := cacheops.New(cacheops.Options{Redis: redis.NewClient(&ro), Prefix: prefix, RedisTimeout: 100 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		db, err := cache.OpenDB(dsn)
		if err != nil {
			t.Fatal(err)
		}
		return cache, db
	}
	q := "SELECT title FROM post WHERE id = $1"
	cache, db := open(proxy.ln.Addr().String())
	rows(t, db, q, 1)
	rows(t, db, q, 1) // cached
	stop := watching(t, db, direct, dsn)
	proxy.mode.Store(proxySwallow)
	mustExec(t, direct, "UPDATE post SET title = 'written while Redis was down' WHERE id = 1")
	time.Sleep(time.Second) // decoded, kept; status updates every 100 ms
	stop()
	db.Close()
	cache.Close() // the process dies: what it kept is gone
	proxy.mode.Store(proxyPass)
	proxy.cutAll()

	cache2, db2 := open(ropts.Addr) // another process, Redis back
	defer cache2.Close()
	defer db2.Close()
	if got := rows(t, db2, q, 1); got != "one" {
		t.Fatalf("the entry from before the outage should still be there (the test proves nothing): %q", got)
	}
	stop = watching(t, db2, direct, dsn)
	defer stop()
	eventually(t, db2, direct, 3*time.Second, q, 1)
}

// Watchers in two processes: one holds the slot, the other waits; when the
// first stops, the second takes over and loses nothing. Uninstall removes
// the slot and the publication.
func TestWatchHandoverAndUninstall(t *testing.T) {
	dsn, direct := logicalServer(t, `CREATE TABLE post (id int PRIMARY KEY, title text NOT NULL); INSERT INTO post VALUES (1, 'one'), (2, 'two')`)
	prefix := testenv.Prefix(t, fmt.Sprintf("watchho_%d", time.Now().UnixNano()))
	var dbs []*sql.DB
	for i := 0; i < 2; i++ {
		_, db := testenv.Open(t, cacheops.Options{RedisURL: testRedisURL(), Prefix: prefix}, dsn)
		dbs = append(dbs, db)
	}
	q := "SELECT title FROM post WHERE id = $1"
	stopLeader := watching(t, dbs[0], direct, dsn)
	stopStandby := watching(t, dbs[1], direct, dsn) // the slot is taken: it waits
	rows(t, dbs[1], q, 1)
	mustExec(t, direct, "UPDATE post SET title = 'by the leader' WHERE id = 1")
	eventually(t, dbs[1], direct, 3*time.Second, q, 1)
	rows(t, dbs[1], q, 2)
	stopLeader()
	mustExec(t, direct, "UPDATE post SET title = 'after the handover' WHERE id = 2")
	eventually(t, dbs[1], direct, 5*time.Second, q, 2)
	stopStandby()

	if err := cacheops.UnwatchDatabase(context.Background(), dbs[0], dsn, cacheops.WatchOptions{}); err != nil {
		t.Fatal(err)
	}
	var slots, pubs int
	direct.QueryRow("SELECT count(*) FROM pg_replication_slots").Scan(&slots)
	direct.QueryRow("SELECT count(*) FROM pg_publication").Scan(&pubs)
	if slots != 0 || pubs != 0 {
		t.Fatalf("after uninstall: %d slots, %d publications", slots, pubs)
	}
	// A role without REPLICATION: a clear error at once.
	role := fmt.Sprintf("watch_norepl_%d", time.Now().UnixNano())
	mustExec(t, direct, fmt.Sprintf("CREATE ROLE %s LOGIN", role))
	noRepl := strings.Replace(dsn, "root@", role+"@", 1)
	if err := cacheops.Watch(context.Background(), dbs[0], noRepl, cacheops.WatchOptions{}); err == nil || !strings.Contains(err.Error(), "needs REPLICATION") {
		t.Fatalf("a role without REPLICATION: %v", err)
	}
	// A server without wal_level = logical: a clear error at once.
	if err := cacheops.Watch(context.Background(), dbs[0], testDSN(), cacheops.WatchOptions{Slot: "cacheops_never"}); err == nil || !strings.Contains(err.Error(), "wal_level") {
		t.Fatalf("against the shared server (wal_level replica): %v", err)
	}
}

// A migration made outside cacheops — a column added, a table dropped and
// made again — reaches every process through the event trigger's message:
// the catalog reloads, SELECT * shows the new column.
func TestWatchSeesOutsideSchemaChanges(t *testing.T) {
	dsn, direct := logicalServer(t, `CREATE TABLE post (id int PRIMARY KEY, title text NOT NULL); INSERT INTO post VALUES (1, 'one')`)
	prefix := testenv.Prefix(t, fmt.Sprintf("watchddl_%d", time.Now().UnixNano()))
	cache, db := testenv.Open(t, cacheops.Options{RedisURL: testRedisURL(), Prefix: prefix}, dsn)
	_, other := testenv.Open(t, cacheops.Options{RedisURL: testRedisURL(), Prefix: prefix}, dsn)
	watching(t, db, direct, dsn)
	q := "SELECT * FROM post WHERE id = $1"
	for _, d := range []*sql.DB{db, other} {
		rows(t, d, q, 1)
		rows(t, d, q, 1)
	}
	hits := cache.Stats().Hits
	if hits == 0 {
		t.Fatal("not cached")
	}
	mustExec(t, direct, "ALTER TABLE post ADD COLUMN extra int DEFAULT 7")
	eventually(t, db, direct, 3*time.Second, q, 1)
	eventually(t, other, direct, 3*time.Second, q, 1)
	mustExec(t, direct, "DROP TABLE post; CREATE TABLE post (id int PRIMARY KEY, body text); INSERT INTO post VALUES (1, 'remade')")
	eventually(t, db, direct, 3*time.Second, q, 1)
	eventually(t, other, direct, 3*time.Second, q, 1)
}

// A watcher running as a sidecar (its process reads nothing) reloads its
// catalog itself after a schema change: the writes that follow are still
// invalidated row by row, not as the whole database.
func TestWatchSidecarStaysGranularAfterSchemaChange(t *testing.T) {
	dsn, direct := logicalServer(t, `CREATE TABLE post (id int PRIMARY KEY, title text NOT NULL); INSERT INTO post VALUES (1, 'one'), (2, 'two')`)
	prefix := testenv.Prefix(t, fmt.Sprintf("watchside_%d", time.Now().UnixNano()))
	_, sidecar := testenv.Open(t, cacheops.Options{RedisURL: testRedisURL(), Prefix: prefix}, dsn)
	cache, db := testenv.Open(t, cacheops.Options{RedisURL: testRedisURL(), Prefix: prefix}, dsn)
	watching(t, sidecar, direct, dsn)
	mustExec(t, direct, "ALTER TABLE post ADD COLUMN body text")
	caughtUp(t, direct)
	q := "SELECT title FROM post WHERE id = $1"
	for _, id := range []int{1, 2} {
		rows(t, db, q, id)
		hitsAgain(t, cache, db, 3*time.Second, q, id)
	}
	mustExec(t, direct, "UPDATE post SET title = 'after the migration' WHERE id = 1")
	eventually(t, db, direct, 3*time.Second, q, 1)
	hits := cache.Stats().Hits
	rows(t, db, q, 2)
	if cache.Stats().Hits != hits+1 {
		t.Fatal("a row the write did not touch was invalidated: the watcher had no catalog")
	}
}
