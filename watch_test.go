package cacheops_test

import (
	"context"
	"database/sql"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops"
)

// logicalPostgres starts a PostgreSQL of the test's own with wal_level =
// logical, from the installed server binaries, in a temporary directory on
// a free loopback port (initdb refuses root: it runs as postgres then), and
// returns its DSN; it is stopped and removed when the test ends.
func logicalPostgres(t *testing.T) string {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		t.Fatal("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin): make services installs them")
	}
	sort.Strings(bins)
	bin := filepath.Dir(bins[len(bins)-1])
	dir, err := os.MkdirTemp("", "cacheops-logical-")
	if err != nil {
		t.Fatal(err)
	}
	asPostgres := func(name string, args ...string) *exec.Cmd {
		if os.Geteuid() == 0 {
			return exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(bin, name)}, args...)...)
		}
		return exec.Command(filepath.Join(bin, name), args...)
	}
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chown", "postgres", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v %s", err, out)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	data := filepath.Join(dir, "data")
	if out, err := asPostgres("initdb", "-D", data, "-A", "trust", "-U", "root", "--no-sync", "-E", "UTF8").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s -c wal_level=logical -c fsync=off -c max_wal_senders=10 -c max_replication_slots=10", port, dir)
	if out, err := asPostgres("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start").CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl start: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		asPostgres("pg_ctl", "-D", data, "-m", "immediate", "stop").Run()
		os.RemoveAll(dir)
	})
	return fmt.Sprintf("postgres://root@127.0.0.1:%d/postgres?sslmode=disable", port)
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
	deadline := time.Now().Add(10 * time.Second)
	for {
		var active bool
		direct.QueryRow("SELECT coalesce(bool_or(active), false) FROM pg_replication_slots WHERE slot_name = 'cacheops'").Scan(&active)
		if active {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("the watcher stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the watcher's slot never became active")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Watch: %v", err)
		}
	}
}

// eventually waits for the read through cacheops to equal the database's.
func eventually(t *testing.T, db, direct *sql.DB, within time.Duration, q string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		got, want := rows(t, db, q, args...), rows(t, direct, q, args...)
		if got == want {
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
	dsn := logicalPostgres(t)
	direct, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	mustExec(t, direct, `CREATE TABLE post (id int PRIMARY KEY, title text NOT NULL, category_id int NOT NULL);
INSERT INTO post SELECT g, 'post ' || g, g % 3 FROM generate_series(1, 30) g`)
	prefix := fmt.Sprintf("test:watch:%d:", time.Now().UnixNano())
	cache, err := cacheops.New(cacheops.Options{RedisURL: testRedisURL(), Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	t.Cleanup(func() { dropPrefix(t, prefix) })
	db, err := cache.OpenDB(dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
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

// dropPrefix deletes the keys a test's own prefix made.
func dropPrefix(t *testing.T, prefix string) {
	rdb, err := cacheops.ClientFromURLForTesting(testRedisURL())
	if err != nil {
		return
	}
	defer rdb.Close()
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var keys []string
	for iter.Next(ctx) {
		keys = append(keys, iter.Val())
	}
	for _, k := range keys {
		rdb.Del(ctx, k)
	}
}

// At least once: with Redis unreachable the watcher's invalidation is kept
// and its position not confirmed, so a process that dies before Redis is
// back loses nothing — the next watcher decodes the write again.
func TestWatchLosesNothingWhenRedisIsDown(t *testing.T) {
	singleNodeOnly(t)
	dsn := logicalPostgres(t)
	direct, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	mustExec(t, direct, `CREATE TABLE post (id int PRIMARY KEY, title text NOT NULL); INSERT INTO post VALUES (1, 'one')`)
	ropts, err := redis.ParseURL(testRedisURL())
	if err != nil {
		t.Fatal(err)
	}
	proxy := newFaultyProxy(t, ropts.Addr)
	prefix := fmt.Sprintf("test:watchdown:%d:", time.Now().UnixNano())
	t.Cleanup(func() { dropPrefix(t, prefix) })
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
