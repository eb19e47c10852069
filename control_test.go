package cacheops_test

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cacheops/cacheops"
)

// withCtx reads through db with a context of the test's choosing.
type withCtx struct {
	db  *sql.DB
	ctx context.Context
}

func (w withCtx) Query(q string, args ...any) (*sql.Rows, error) {
	return w.db.QueryContext(w.ctx, q, args...)
}

// pgxWithCtx is the same for a pgx pool.
type pgxWithCtx struct {
	db  pgxDB
	ctx context.Context
}

func (w pgxWithCtx) Query(_ context.Context, q string, args ...any) (pgx.Rows, error) {
	return w.db.Query(w.ctx, q, args...)
}

// entryTTLs returns the remaining lifetimes of the env's cached entries.
func (e *env) entryTTLs() []time.Duration {
	e.t.Helper()
	var out []time.Duration
	for _, k := range e.keys(e.prefix + "{*}e:*") {
		out = append(out, e.rdb.PTTL(e.ctx, k).Val())
	}
	return out
}

const postTitle = "SELECT title FROM post WHERE id = $1"

// NoCache, by context or comment: the read goes to PostgreSQL and stores
// nothing; the cached entry others use stays.
func TestNoCache(t *testing.T) {
	e := newFixture(t)
	for _, tc := range []struct {
		name string
		read func(q string, args ...any) string
	}{
		{"context", func(q string, args ...any) string {
			return rows(t, withCtx{e.db, cacheops.NoCache(e.ctx)}, q, args...)
		}},
		{"hint", func(q string, args ...any) string { return e.read("/* cacheops:nocache */ "+q, args...) }},
		{"pgx context", func(q string, args ...any) string {
			pool, _ := e.pools()
			return pgxRead(t, pgxWithCtx{pool, cacheops.NoCache(e.ctx)}, q, args...)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			id := map[string]int{"context": 1, "hint": 2, "pgx context": 3}[tc.name]
			for _, k := range e.keys(e.prefix + "{*}e:*") {
				e.rdb.Del(e.ctx, k)
			}
			before := e.cache.Stats()
			if got := tc.read(postTitle, id); got != e.direct_(postTitle, id) {
				t.Fatalf("got %q", got)
			}
			if n := len(e.keys(e.prefix + "{*}e:*")); n != 0 {
				t.Fatalf("a nocache read stored %d entries", n)
			}
			after := e.cache.Stats()
			if after.Skipped != before.Skipped+1 || after.Hits != before.Hits || after.Misses != before.Misses {
				t.Fatalf("counters: before %+v, after %+v", before, after)
			}
			// Cached for everyone else; a nocache read still reads the database.
			e.cached(postTitle, id)
			e.outOfBand("UPDATE post SET title = title || '!' WHERE id = $1", id)
			if got := tc.read(postTitle, id); got != e.direct_(postTitle, id) {
				t.Fatalf("a nocache read was answered from the cache: %q", got)
			}
			e.kept(postTitle, id)
			cacheops.InvalidateTables(e.ctx, e.db, "post")
		})
	}
}

// Refresh, by context or comment: the read runs the query and replaces the
// entry others read, so a write made outside cacheops can be caught up.
func TestRefresh(t *testing.T) {
	e := newFixture(t)
	for i, refresh := range []func(q string, args ...any) string{
		func(q string, args ...any) string { return rows(t, withCtx{e.db, cacheops.Refresh(e.ctx)}, q, args...) },
		func(q string, args ...any) string { return e.read("/* cacheops:refresh */ "+q, args...) },
		func(q string, args ...any) string { return e.read(q+" -- cacheops:refresh", args...) },
	} {
		id := i + 1
		e.cached(postTitle, id)
		e.outOfBand("UPDATE post SET title = $2 WHERE id = $1", id, "outside")
		e.kept(postTitle, id) // the write was not seen
		before := e.cache.Stats()
		if got := refresh(postTitle, id); got != "outside" {
			t.Fatalf("refresh %d read %q", i, got)
		}
		if s := e.cache.Stats(); s.Refreshes != before.Refreshes+1 || s.Hits != before.Hits || s.Stores != before.Stores+1 {
			t.Fatalf("refresh %d: before %+v, after %+v", i, before, s)
		}
		e.hit("outside", postTitle, id) // the entry everyone reads was replaced
	}
	// Through pgx.
	pool, _ := e.pools()
	pgxRead(t, pool, postTitle, 3)
	e.outOfBand("UPDATE post SET title = 'pgx outside' WHERE id = 3")
	if got := pgxRead(t, pool, postTitle, 3); got == "pgx outside" {
		t.Fatal("the pgx read was not cached")
	}
	if got := pgxRead(t, pgxWithCtx{pool, cacheops.Refresh(e.ctx)}, postTitle, 3); got != "pgx outside" {
		t.Fatalf("pgx refresh read %q", got)
	}
	if got := pgxRead(t, pool, postTitle, 3); got != "pgx outside" {
		t.Fatalf("after the pgx refresh: %q", got)
	}
}

// A refresh is still guarded: a write that lands while its rows are read
// keeps its result out of the cache, as for any miss.
func TestRefreshIsGuarded(t *testing.T) {
	e := newFixture(t)
	e.cached(firstThree, 3)
	e.writeWhileReading(cacheops.Refresh(e.ctx), "UPDATE post SET title = 'during' WHERE id = 2")
	if s := e.cache.Stats(); s.GuardDrops != 1 || s.Refreshes != 1 {
		t.Fatalf("the refresh's result was stored over a write: %+v", s)
	}
	e.fresh(firstThree, 3)
}

// firstThree is a read of several rows, for writes made while it is read.
const firstThree = "SELECT id, title FROM post WHERE id <= $1 ORDER BY id"

// writeWhileReading reads firstThree with ctx and runs write (through
// cacheops) after the first row: a miss's store must then be dropped.
func (e *env) writeWhileReading(ctx context.Context, write string) {
	e.t.Helper()
	rs, err := e.db.QueryContext(ctx, firstThree, 3)
	if err != nil {
		e.t.Fatal(err)
	}
	rs.Next()
	e.exec(write)
	for rs.Next() {
	}
	rs.Close()
}

// WithTTL and the ttl hint set the entry's lifetime in Redis; the entry is
// gone when it ends.
func TestPerQueryTTL(t *testing.T) {
	e := newFixture(t, func(o *cacheops.Options) { o.TTL = time.Hour })
	e.read(postTitle, 1)
	if ttls := e.entryTTLs(); len(ttls) != 1 || ttls[0] < 59*time.Minute {
		t.Fatalf("default TTL: %v", ttls)
	}
	cacheops.InvalidateAll(e.ctx, e.db)
	for _, tc := range []struct {
		name string
		read func() string
	}{
		{"context", func() string { return rows(t, withCtx{e.db, cacheops.WithTTL(e.ctx, time.Second)}, postTitle, 2) }},
		{"hint", func() string { return e.read("SELECT title FROM post WHERE id = $1 /* cacheops:ttl=1s */", 2) }},
	} {
		for _, k := range e.keys(e.prefix + "{*}e:*") {
			e.rdb.Del(e.ctx, k)
		}
		tc.read()
		ttls := e.entryTTLs()
		if len(ttls) != 1 || ttls[0] <= 0 || ttls[0] > time.Second {
			t.Fatalf("%s: entry TTLs %v, want one of at most 1s", tc.name, ttls)
		}
		misses := e.cache.Stats().Misses
		tc.read()
		if e.cache.Stats().Misses != misses {
			t.Fatalf("%s: not a hit before the TTL", tc.name)
		}
		time.Sleep(1100 * time.Millisecond)
		tc.read()
		if e.cache.Stats().Misses != misses+1 {
			t.Fatalf("%s: still a hit after the TTL", tc.name)
		}
	}
	// Controls given one after the other add up.
	ctx := cacheops.WithTTL(cacheops.NoCache(e.ctx), time.Minute)
	before := e.cache.Stats().Skipped
	rows(t, withCtx{e.db, ctx}, postTitle, 3)
	if e.cache.Stats().Skipped != before+1 {
		t.Fatal("WithTTL dropped NoCache")
	}
}

// Table rules: the most specific pattern decides; a read is cached only if
// every table it reads is, for the smallest of their TTLs.
func TestTableRules(t *testing.T) {
	schema := "t_" + nonIdent.ReplaceAllString(strings.ToLower(t.Name()), "_") // newEnv's
	e := newFixture(t, func(o *cacheops.Options) {
		o.TTL = time.Hour
		o.Tables = map[string]cacheops.TableRule{
			"*":               {Cache: false},
			schema + ".*":     {Cache: true},                        // beats "*"
			"extra":           {Cache: false},                       // a name beats schema.*
			"post":            {Cache: true, TTL: 30 * time.Second}, //
			"brand":           {Cache: false},                       // schema.brand beats it
			schema + ".brand": {Cache: true, TTL: 10 * time.Second},
			"other_schema.*":  {Cache: false}, // names nothing here
		}
	})
	if e.schema != schema {
		t.Fatalf("schema %q, newEnv made %q", schema, e.schema)
	}
	// A view is cached as the tables it reads are.
	e.outOfBand("CREATE VIEW extra_tags AS SELECT post_id, tag FROM extra")
	e.outOfBand("CREATE VIEW visible_post AS SELECT id, title FROM post WHERE visible")
	for _, tc := range []struct {
		q   string
		ttl time.Duration // 0: not cached
	}{
		{"SELECT title FROM post WHERE id = 1", 30 * time.Second},
		{"SELECT title FROM category WHERE id = 1", time.Hour},
		{"SELECT p.title, c.title FROM post p JOIN category c ON c.id = p.category_id WHERE p.id = 1", 30 * time.Second},
		{"SELECT tag FROM extra WHERE id = 1", 0},
		{"SELECT p.title, x.tag FROM post p JOIN extra x ON x.post_id = p.id WHERE p.id = 1", 0},
		{"SELECT name FROM brand WHERE id = 1", 10 * time.Second},
		{"SELECT tag FROM extra_tags WHERE post_id = 1", 0},
		{"SELECT title FROM visible_post WHERE id = 1", 30 * time.Second},
		{"SELECT b.name FROM brand b JOIN brand_label bl ON bl.brand_id = b.id WHERE b.id = 1", 10 * time.Second},
	} {
		for _, k := range e.keys(e.prefix + "{*}e:*") {
			e.rdb.Del(e.ctx, k)
		}
		skipped := e.cache.Stats().Skipped
		if got, want := e.read(tc.q), e.direct_(tc.q); got != want {
			t.Fatalf("%s: %q, want %q", tc.q, got, want)
		}
		ttls := e.entryTTLs()
		if tc.ttl == 0 {
			if len(ttls) != 0 || e.cache.Stats().Skipped != skipped+1 {
				t.Fatalf("%s: cached against the rules (%v)", tc.q, ttls)
			}
			continue
		}
		if len(ttls) != 1 || ttls[0] > tc.ttl || ttls[0] < tc.ttl-5*time.Second {
			t.Fatalf("%s: entry TTLs %v, want %v", tc.q, ttls, tc.ttl)
		}
	}
}

// A refresh shares no miss in flight: one begun before the refresh was
// asked for may miss the write the refresh is meant to catch up.
func TestRefreshDoesNotJoinAMissInFlight(t *testing.T) {
	e := newFixture(t)
	const q = "SELECT id, title FROM post WHERE id <= $1 ORDER BY id"
	// Two connections open and ready: the refresh must reach the wait while
	// the leader's caller is reading (a waiter leaves an idle leader).
	hold, err := e.db.QueryContext(e.ctx, "SELECT 1")
	if err != nil {
		t.Fatal(err)
	}
	e.read("SELECT 2")
	hold.Close()
	e.direct_(q, 3)
	leader, err := e.db.QueryContext(e.ctx, q, 3) // a miss, in flight until its rows end
	if err != nil {
		t.Fatal(err)
	}
	leader.Next()
	e.outOfBand("UPDATE post SET title = 'outside' WHERE id = 3")
	got := make(chan string)
	go func() { got <- rows(t, withCtx{e.db, cacheops.Refresh(e.ctx)}, q, 3) }()
	time.Sleep(20 * time.Millisecond) // the refresh would be waiting for the leader now
	for leader.Next() {
	}
	leader.Close()
	if r := <-got; r != e.direct_(q, 3) {
		t.Fatalf("the refresh returned the older result %q", r)
	}
}
