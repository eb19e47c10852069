package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cacheops/cacheops"
	"github.com/cacheops/cacheops/internal/testenv"
)

// The commands run against the real servers the suite uses, in a schema
// and under a key prefix of their own, both removed afterwards.
func testEnv(t *testing.T) (dsn string, db *sql.DB, cache *cacheops.Cache) {
	t.Helper()
	schema, dsn := testenv.Schema(t, "CREATE TABLE post (id int PRIMARY KEY, title text NOT NULL); INSERT INTO post VALUES (7, 'seven'), (8, 'eight')")
	t.Setenv("CACHEOPS_REDIS", testenv.RedisURL())
	t.Setenv("CACHEOPS_PREFIX", testenv.Prefix(t, schema))
	t.Setenv("CACHEOPS_DATABASE", dsn)
	cache, err := cacheops.New(cacheops.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db, err = cache.OpenDB(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		cache.Close()
	})
	return dsn, db, cache
}

func cli(t *testing.T, args ...string) (string, int) {
	t.Helper()
	return cliCtx(context.Background(), args...)
}

func mustContain(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

func TestExplain(t *testing.T) {
	testEnv(t)
	out, code := cli(t, "explain", "SELECT title FROM post WHERE id = $1", "7")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	mustContain(t, out, "cached:        yes, for 1h0m0s", `."post"`, "id = 7", "entry key:", "stamps:", "parser:")
	out, _ = cli(t, "explain", "SELECT title, now() FROM post WHERE id = $1", "7")
	mustContain(t, out, "cached:        no — ")
	out, _ = cli(t, "explain", "/* cacheops:nocache,ttl=soon */ SELECT title FROM post WHERE id = 1")
	mustContain(t, out, "a control keeps it from the cache", "nocache", "ttl=soon (not understood: ignored)")
	out, _ = cli(t, "explain", "UPDATE post SET title = $1 WHERE id = $2", "x", "7")
	mustContain(t, out, "writes:", "hidden RETURNING")
	out, _ = cli(t, "explain", "TRUNCATE post")
	mustContain(t, out, "writes:", "whole:")
	if _, code := cli(t, "explain"); code != 2 {
		t.Fatalf("explain without SQL: exit %d", code)
	}
}

func TestStatsAndInvalidate(t *testing.T) {
	_, db, cache := testEnv(t)
	read := func() {
		var title string
		if err := db.QueryRow("SELECT title FROM post WHERE id = $1", 7).Scan(&title); err != nil {
			t.Fatal(err)
		}
	}
	read()
	read()
	out, code := cli(t, "stats")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	mustContain(t, out, "entries                   1", "table stamps", "row stamps", "schemes sets", "total")
	hits := cache.Stats().Hits
	if out, code := cli(t, "invalidate", "--table", "post"); code != 0 || !strings.Contains(out, "invalidated: post") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	read()
	if cache.Stats().Hits != hits {
		t.Fatal("a hit after `cacheops invalidate --table post`")
	}
	read()
	if out, code := cli(t, "invalidate", "--all"); code != 0 || !strings.Contains(out, "every entry") {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	hits = cache.Stats().Hits
	read()
	if cache.Stats().Hits != hits {
		t.Fatal("a hit after `cacheops invalidate --all`")
	}
	for _, bad := range [][]string{{"invalidate"}, {"invalidate", "--all", "--table", "post"}} {
		if _, code := cli(t, bad...); code != 2 {
			t.Errorf("%v: exit %d", bad, code)
		}
	}
	if out, code := cli(t, "invalidate", "--table", "no_such_table"); code != 1 {
		t.Errorf("an unknown table: exit %d\n%s", code, out)
	}
}

func TestDoctor(t *testing.T) {
	testEnv(t)
	out, code := cli(t, "doctor")
	if code != 0 {
		t.Fatalf("exit %d:\n%s", code, out)
	}
	mustContain(t, out, "ok    cacheops "+cacheops.Version, "ok    Redis ", "ok    PostgreSQL ", "a miss, stored, then a hit")
	t.Setenv("CACHEOPS_REDIS", "redis://127.0.0.1:1/0")
	out, code = cli(t, "doctor")
	if code != 1 {
		t.Fatalf("a Redis nobody listens on: exit %d\n%s", code, out)
	}
	mustContain(t, out, "FAIL  Redis (CACHEOPS_REDIS)")
	t.Setenv("CACHEOPS_DATABASE", "")
	t.Setenv("DATABASE_URL", "")
	if _, code := cli(t, "explain", "SELECT 1"); code != 1 {
		t.Fatalf("no database: exit %d", code)
	}
	if _, code := cli(t, "frobnicate"); code != 2 {
		t.Fatalf("an unknown command: exit %d", code)
	}
}

func TestKeyKinds(t *testing.T) {
	for key, want := range map[string]string{
		`p:{a.1}e:0123`:                         kindEntry,
		`p:{a.1}e:0123:lock`:                    kindLock,
		`p:{a.1}s:9/db:"public"."post"`:         kindTable,
		`p:{a.1}s:9/db:"public"."post":c:ab`:    kindRow,
		`p:{a.1}s:9/db:"public"."post":k:ab`:    kindScheme,
		`p:{a.1}s:9/db:"public"."post":schemes`: kindSchemes,
		`p:{a.1}s:9/db:*`:                       kindDB,
		`p:{a.1}s:9/db:#schema`:                 kindDB,
		`p:floor`:                               kindOther,
	} {
		if got := keyKind(key); got != want {
			t.Errorf("%s: %s, want %s", key, got, want)
		}
	}
}

// `cacheops watch` as a sidecar: an outside write is seen through another
// process's cache; --uninstall leaves no slot.
func TestWatchCommand(t *testing.T) {
	dsn := testenv.LogicalPostgres(t)
	direct, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer direct.Close()
	if _, err := direct.Exec("CREATE TABLE post (id int PRIMARY KEY, title text); INSERT INTO post VALUES (1, 'one')"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("CACHEOPS_REDIS", testenv.RedisURL())
	t.Setenv("CACHEOPS_PREFIX", testenv.Prefix(t, fmt.Sprintf("cliwatch_%d", time.Now().UnixNano())))
	t.Setenv("CACHEOPS_DATABASE", dsn)
	_, db := testenv.Open(t, cacheops.Options{}, dsn)
	read := func() (title string) {
		if err := db.QueryRow("SELECT title FROM post WHERE id = $1", 1).Scan(&title); err != nil {
			t.Fatal(err)
		}
		return title
	}
	read()
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { out, code := cliCtx(ctx, "watch"); t.Log(out); done <- code }()
	deadline := time.Now().Add(10 * time.Second)
	for active := false; !active; {
		direct.QueryRow("SELECT coalesce(bool_or(active), false) FROM pg_replication_slots").Scan(&active)
		if time.Now().After(deadline) {
			t.Fatal("the watcher never started")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if _, err := direct.Exec("UPDATE post SET title = 'outside' WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	for read() != "outside" {
		if time.Now().After(deadline) {
			t.Fatal("the outside write was not seen")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// stats shows the watcher's lag (the age of its heartbeat).
	for {
		out, code := cli(t, "stats")
		if code != 0 {
			t.Fatalf("stats: exit %d: %s", code, out)
		}
		if strings.Contains(out, "watcher of ") && strings.Contains(out, ": lag ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no watcher lag in stats:\n%s", out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	if code := <-done; code != 0 {
		t.Fatalf("watch exited %d", code)
	}
	if out, code := cli(t, "watch", "--uninstall"); code != 0 || !strings.Contains(out, "dropped slot cacheops") {
		t.Fatalf("exit %d: %s", code, out)
	}
	if out, _ := cli(t, "stats"); strings.Contains(out, "watcher of ") {
		t.Fatalf("the heartbeat outlived the uninstall:\n%s", out)
	}
	var slots int
	direct.QueryRow("SELECT count(*) FROM pg_replication_slots").Scan(&slots)
	if slots != 0 {
		t.Fatalf("%d slots left", slots)
	}
}

func cliCtx(ctx context.Context, args ...string) (string, int) {
	var out, errs bytes.Buffer
	code := run(ctx, args, &out, &errs)
	return out.String() + errs.String(), code
}
