package cacheops_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cacheops/cacheops"
)

// Scenario 35: reads that must never be cached.
func TestNonDeterministicReadsAreNeverCached(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	e.outOfBand(`CREATE FUNCTION stable_lookup(i int) RETURNS text STABLE LANGUAGE sql AS 'SELECT title FROM post WHERE id = i';
CREATE TABLE secret (id int, owner text); ALTER TABLE secret ENABLE ROW LEVEL SECURITY;
CREATE SEQUENCE counter`)
	for _, q := range []string{
		"SELECT now()", "SELECT clock_timestamp()", "SELECT random()", "SELECT current_timestamp",
		"SELECT nextval('post_id_seq')", "SELECT * FROM post WHERE id = 1 FOR UPDATE",
		"SELECT * FROM post WHERE id = 1 FOR SHARE", "SELECT count(*) FROM pg_class",
		"SELECT * FROM information_schema.tables LIMIT 1", "SELECT stable_lookup(1)",
		"SELECT count(*) FROM secret", "SELECT last_value FROM counter",
		"SELECT current_setting('application_name')", "SELECT 'today'::date",
		"SELECT * FROM post TABLESAMPLE BERNOULLI (50)",
	} {
		before := e.cache.Stats()
		e.read(q)
		e.read(q)
		after := e.cache.Stats()
		if after.Hits != before.Hits || after.Misses != before.Misses || after.Passthrough != before.Passthrough+2 {
			t.Errorf("%s was treated as cacheable: %+v → %+v", q, before, after)
		}
	}
	if a, b := e.read("SELECT random()"), e.read("SELECT random()"); a == b {
		t.Error("random() returned the same value twice")
	}
}

// A date passed as 'today' means a different day tomorrow.
func TestRelativeTimeArgumentsAreNotCached(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	before := e.cache.Stats().Passthrough
	e.read("SELECT $1::date = current_date", "today")
	e.read("SELECT $1::date - 1", "tomorrow")
	if e.cache.Stats().Passthrough != before+2 {
		t.Fatal("relative time arguments must not be cached")
	}
}

// Temporary tables belong to one session and are never cached, even when they
// shadow a cached table of the same name.
func TestTemporaryTablesAreNeverCached(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	e.cached("SELECT count(*) FROM brand")
	conn, err := e.db.Conn(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, q := range []string{"CREATE TEMP TABLE brand (id int)", "INSERT INTO brand VALUES (1), (2), (3)"} {
		if _, err := conn.ExecContext(e.ctx, q); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 2; i++ {
		if got := rows(t, onConn{conn}, "SELECT count(*) FROM brand"); got != "3" {
			t.Fatalf("read the cached public table instead of the temporary one: %q", got)
		}
		if _, err := conn.ExecContext(e.ctx, "INSERT INTO brand VALUES (4)"); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.ExecContext(e.ctx, "DELETE FROM brand WHERE id = 4"); err != nil {
			t.Fatal(err)
		}
	}
	e.hit("2", "SELECT count(*) FROM brand") // other sessions keep their entry
}

// The stale-fill guard: a result whose query ran on a snapshot older than a
// write that invalidated its stamps meanwhile is not stored, is counted, and
// the next read misses and is fresh. The query is slow on purpose, so that the
// write lands while it runs.
func TestStaleFillGuardDropsAFillRacingAWrite(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	q := "SELECT max(p.title), count(*) FROM post p, generate_series(1, 4000000) g WHERE p.id = 1"
	for attempt := 0; attempt < 5; attempt++ {
		e.exec("UPDATE post SET title = $1 WHERE id = 1", fmt.Sprint("before ", attempt))
		done := make(chan string)
		go func() { done <- rows(t, e.db, q) }()
		time.Sleep(150 * time.Millisecond) // the query has read its stamps and runs
		e.exec("UPDATE post SET title = 'written meanwhile' WHERE id = 1")
		got := <-done
		if !strings.HasPrefix(got, "before") {
			continue // the write landed before the query's snapshot: try again
		}
		if s := e.cache.Stats(); s.GuardDrops == 0 {
			t.Fatalf("a fill from before the write was stored: %+v", s)
		}
		misses := e.cache.Stats().Misses
		e.fresh(q)
		if e.cache.Stats().Misses != misses+1 {
			t.Fatal("the next read must miss")
		}
		return
	}
	t.Fatal("the write never landed while the query ran")
}

// Results past MaxRows stream through complete and are not cached. Rows closed
// early are read to their end (the driver reads them off the wire at Close
// anyway) and the complete result is stored, never a partial one.
func TestLargeAndPartialResultsAreNotStored(t *testing.T) {
	t.Parallel()
	e := newFixture(t, func(o *cacheops.Options) { o.MaxRows = 4 })
	e.outOfBand("INSERT INTO label(text) SELECT 'l' || g FROM generate_series(1, 10) g")
	q := "SELECT id FROM label ORDER BY id"
	for i := 0; i < 2; i++ {
		rs, err := e.db.Query(q)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for rs.Next() {
			n++
		}
		rs.Close()
		if n != 13 {
			t.Fatalf("streamed %d rows, want 13", n)
		}
	}
	if s := e.cache.Stats(); s.Hits != 0 || s.Stores != 0 {
		t.Fatalf("a result past MaxRows was cached: %+v", s)
	}
	rs, err := e.db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	rs.Next()
	rs.Close()
	if s := e.cache.Stats(); s.Stores != 0 {
		t.Fatalf("a result past MaxRows closed early was stored: %+v", s)
	}
	small := "SELECT id FROM label WHERE id < 4 ORDER BY id"
	rs, err = e.db.Query(small)
	if err != nil {
		t.Fatal(err)
	}
	rs.Next()
	rs.Close()
	e.hit("1|2|3", small) // the whole result, not the one row read
	var id int
	if err := e.db.QueryRow("SELECT id FROM label WHERE id = $1", 2).Scan(&id); err != nil {
		t.Fatal(err)
	}
	hits := e.cache.Stats().Hits
	if err := e.db.QueryRow("SELECT id FROM label WHERE id = $1", 2).Scan(&id); err != nil || id != 2 {
		t.Fatal(err)
	}
	if e.cache.Stats().Hits != hits+1 {
		t.Fatal("QueryRow is not cached")
	}
}

// PostgreSQL's own errors reach the caller unchanged, from cacheable and
// uncacheable statements alike, and are never cached.
func TestPostgresErrorsReachTheCallerUnchanged(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	cases := []struct {
		sql  string
		args []any
		code string
	}{
		{"SELECT * FROM no_such_table", nil, "42P01"},
		{"SELEC 1", nil, "42601"},
		{"SELECT 1 / $1::int", []any{0}, "22012"},
		{"SELECT no_such_column FROM post", nil, "42703"},
		{"INSERT INTO post(id, title) VALUES (1, 'dup')", nil, "23505"},
		{"SELECT * FROM post WHERE id = $1", []any{"not a number"}, "22P02"},
	}
	for _, c := range cases {
		for i := 0; i < 2; i++ {
			_, err := e.db.Query(c.sql, c.args...)
			var pgErr *pgconn.PgError
			if !errors.As(err, &pgErr) || pgErr.Code != c.code {
				t.Fatalf("%s: got %v, want SQLSTATE %s", c.sql, err, c.code)
			}
			_, directErr := e.direct.Query(c.sql, c.args...)
			if directErr == nil || directErr.Error() != err.Error() {
				t.Fatalf("%s: %v, directly %v", c.sql, err, directErr)
			}
		}
	}
}

// Redis is an optimisation: with no Redis reachable every query still answers
// correctly and no error reaches the caller.
func TestRedisUnreachableFallsBackToPostgres(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	cache, err := cacheops.New(cacheops.Options{RedisURL: "redis://127.0.0.1:1/0"})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	db, err := cache.OpenDB(withSearchPath(testDSN(), e.schema))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for i := 0; i < 3; i++ {
		if got, want := rows(t, db, post1, 1), e.direct_(post1, 1); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
		mustExec(t, db, "UPDATE post SET title = $1 WHERE id = 1", fmt.Sprint("t", i))
		tx, err := db.Begin()
		if err != nil {
			t.Fatal(err)
		}
		mustExec(t, tx, "UPDATE post SET visible = NOT visible WHERE id = 2")
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	if s := cache.Stats(); s.RedisErrors == 0 || s.Hits != 0 {
		t.Fatalf("stats %+v", s)
	}
}

// Cancellation reaches the caller as PostgreSQL/pgx report it.
func TestCancelledContext(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.db.QueryContext(ctx, post1, 1); !errors.Is(err, context.Canceled) {
		t.Fatalf("got %v", err)
	}
}

// A view that calls a clock function is as uncacheable as the function.
func TestViewsOfVolatileExpressionsAreNeverCached(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	e.outOfBand(`CREATE VIEW stamped AS SELECT id, now() AS at FROM post;
CREATE VIEW today_posts AS SELECT id FROM post WHERE current_date > '2000-01-01';
CREATE VIEW rnd AS SELECT random() AS r`)
	for _, q := range []string{"SELECT * FROM stamped", "SELECT * FROM today_posts", "SELECT * FROM rnd"} {
		before := e.cache.Stats().Passthrough
		e.read(q)
		e.read(q)
		if e.cache.Stats().Passthrough != before+2 {
			t.Errorf("%s was cached", q)
		}
	}
}

// Disabled: no cache reads or fills, but writes still invalidate so that other
// processes sharing the Redis stay correct.
func TestDisabledCacheStillInvalidates(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	e.cached(post1, 1)
	off, err := cacheops.New(cacheops.Options{Redis: e.rdb, Prefix: e.cachePrefix(), Disabled: true})
	if err != nil {
		t.Fatal(err)
	}
	db, err := off.OpenDB(withSearchPath(testDSN(), e.schema))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows(t, db, post1, 1)
	rows(t, db, post1, 1)
	if s := off.Stats(); s.Hits+s.Misses != 0 {
		t.Fatalf("a disabled cache was used: %+v", s)
	}
	mustExec(t, db, "UPDATE post SET title = 'by the disabled one' WHERE id = 1")
	e.fresh(post1, 1)
}
