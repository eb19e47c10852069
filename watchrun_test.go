package cacheops_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cacheops/cacheops"
	"github.com/cacheops/cacheops/internal/testenv"
)

// Options.Watch (or CACHEOPS_WATCH=1) runs the watcher inside the process,
// on the DSN of each database the cache opens, whichever way it opens it;
// closing the cache stops it (the next one takes the slot).
func TestWatchInProcess(t *testing.T) {
	dsn, direct := logicalServer(t, `CREATE TABLE post (id int PRIMARY KEY, title text NOT NULL); INSERT INTO post SELECT g, 'post ' || g FROM generate_series(1, 10) g`)
	prefix := testenv.Prefix(t, fmt.Sprintf("watchproc_%d", time.Now().UnixNano()))
	q := "SELECT title FROM post WHERE id = $1"
	type reader = func(id int) (string, error)
	sqlReader := func(db *sql.DB) reader {
		return func(id int) (string, error) { return readRows(db, q, id) }
	}
	for i, c := range []struct {
		name string
		env  string
		opts cacheops.Options
		open func(t *testing.T, cache *cacheops.Cache) reader
	}{
		{"OpenDB", "", cacheops.Options{Watch: &cacheops.WatchOptions{}}, func(t *testing.T, cache *cacheops.Cache) reader {
			db, err := cache.OpenDB(dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return sqlReader(db)
		}},
		{"CACHEOPS_WATCH and a registered driver", "1", cacheops.Options{}, func(t *testing.T, cache *cacheops.Cache) reader {
			name := fmt.Sprintf("cacheops-watch-test-%d", time.Now().UnixNano())
			sql.Register(name, cache.Driver())
			db, err := sql.Open(name, dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return sqlReader(db)
		}},
		{"WrapPool", "", cacheops.Options{Watch: &cacheops.WatchOptions{}}, func(t *testing.T, cache *cacheops.Cache) reader {
			p, err := pgxpool.New(context.Background(), dsn)
			if err != nil {
				t.Fatal(err)
			}
			pool := cache.WrapPool(p)
			t.Cleanup(pool.Close)
			return func(id int) (string, error) {
				var title string
				err := pool.QueryRow(context.Background(), q, id).Scan(&title)
				return title, err
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.env != "" {
				t.Setenv("CACHEOPS_WATCH", c.env)
			}
			opts := c.opts
			opts.RedisURL, opts.Prefix = testRedisURL(), prefix
			cache, err := cacheops.New(opts)
			if err != nil {
				t.Fatal(err)
			}
			defer cache.Close()
			read := c.open(t, cache)
			id := i + 1
			want := fmt.Sprintf("post %d", id)
			for range 2 {
				if got, err := read(id); err != nil || got != want {
					t.Fatalf("read %q %v", got, err)
				}
			}
			if cache.Stats().Hits == 0 {
				t.Fatal("not cached")
			}
			// A watcher follows what commits once its slot exists (the
			// last subtest's watcher has released it).
			slotActive(t, direct, func() {})
			want = "changed by " + c.name
			mustExec(t, direct, "UPDATE post SET title = $1 WHERE id = $2", want, id)
			deadline := time.Now().Add(5 * time.Second)
			for {
				got, err := read(id)
				if err == nil && got == want {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("the in-process watcher never delivered the outside write: %q %v", got, err)
				}
				time.Sleep(50 * time.Millisecond)
			}
		})
	}

	t.Run("a bad CACHEOPS_WATCH", func(t *testing.T) {
		t.Setenv("CACHEOPS_WATCH", "sometimes")
		if _, err := cacheops.New(cacheops.Options{RedisURL: testRedisURL(), Prefix: prefix}); err == nil || !strings.Contains(err.Error(), "CACHEOPS_WATCH") {
			t.Fatalf("New: %v", err)
		}
	})
	t.Run("a server that cannot decode", func(t *testing.T) {
		var buf syncBuffer
		cache, err := cacheops.New(cacheops.Options{RedisURL: testRedisURL(), Prefix: prefix, Watch: &cacheops.WatchOptions{Slot: "cacheops_never"},
			Logger: slog.New(slog.NewTextHandler(&buf, nil))})
		if err != nil {
			t.Fatal(err)
		}
		db, err := cache.OpenDB(testDSN()) // wal_level replica
		if err != nil {
			t.Fatal(err)
		}
		rows(t, db, "SELECT 1")
		deadline := time.Now().Add(5 * time.Second)
		for !strings.Contains(buf.String(), "wal_level") {
			if time.Now().After(deadline) {
				t.Fatalf("no error logged: %q", buf.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		db.Close()
		cache.Close()
	})
}

// A PostgreSQL restart (connections cut) loses nothing: a write committed
// just before it, whose invalidation may not have been delivered, and one
// after it are both seen; the watcher reconnects and resumes from its slot.
func TestWatchSurvivesPostgresRestart(t *testing.T) {
	dsn, restart := testenv.LogicalPostgresRestartable(t)
	direct, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	mustExec(t, direct, `CREATE TABLE post (id int PRIMARY KEY, title text NOT NULL); INSERT INTO post VALUES (1, 'one'), (2, 'two')`)
	prefix := testenv.Prefix(t, fmt.Sprintf("watchrestart_%d", time.Now().UnixNano()))
	_, db := testenv.Open(t, cacheops.Options{RedisURL: testRedisURL(), Prefix: prefix, WatchMaxLag: -1}, dsn)
	watching(t, db, direct, dsn)
	q := "SELECT title FROM post WHERE id = $1"
	for _, id := range []int{1, 2} {
		rows(t, db, q, id)
		rows(t, db, q, id)
	}
	mustExec(t, direct, "UPDATE post SET title = 'before the restart' WHERE id = 1")
	restart()
	after, err := sql.Open("pgx", dsn) // the old connections were cut
	if err != nil {
		t.Fatal(err)
	}
	defer after.Close()
	mustExec(t, after, "UPDATE post SET title = 'after the restart' WHERE id = 2")
	eventually(t, db, after, 15*time.Second, q, 1)
	eventually(t, db, after, 15*time.Second, q, 2)
}
