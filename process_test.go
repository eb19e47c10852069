package cacheops_test

import (
	"database/sql"
	"testing"
	"time"

	"github.com/cacheops/cacheops"
)

// freshCase is a two-way invalidation case: set up out of band, read
// through cacheops (twice, so it is cached), write through cacheops, and the
// read must be fresh. The write must change the read's result, or the case
// proves nothing.
type freshCase struct{ name, setup, read, write string }

func runFreshCases(t *testing.T, cases []freshCase) {
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newFixture(t)
			if c.setup != "" {
				e.outOfBand(c.setup)
			}
			first := e.read(c.read)
			e.read(c.read)
			e.exec(c.write)
			e.fresh(c.read)
			if e.read(c.read) == first {
				t.Fatalf("the write did not change %s: the case proves nothing", c.read)
			}
		})
	}
}

// process is another process sharing e's Redis and key prefix: its own
// Cache (catalog, undelivered invalidations, breaker) and connections.
type process struct {
	cache *cacheops.Cache
	db    *sql.DB
}

func (e *env) otherProcess(opts ...func(*cacheops.Options)) *process {
	e.t.Helper()
	o := cacheops.Options{Redis: e.rdb, Prefix: e.prefix, RedisTimeout: 5 * time.Second}
	for _, f := range opts {
		f(&o)
	}
	cache, err := cacheops.New(o)
	if err != nil {
		e.t.Fatal(err)
	}
	db, err := cache.OpenDB(withSearchPath(testDSN(), e.schema))
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { db.Close(); cache.Close() })
	return &process{cache: cache, db: db}
}

// cached reads q twice through the process and checks the second is a hit.
func (p *process) cached(t testing.TB, q string, args ...any) string {
	t.Helper()
	first := rows(t, p.db, q, args...)
	hits := p.cache.Stats().Hits
	if second := rows(t, p.db, q, args...); second != first || p.cache.Stats().Hits != hits+1 {
		t.Fatalf("%s: not cached in the other process (%q then %q)", q, first, second)
	}
	return first
}

// fresh checks the process reads what the database holds.
func (p *process) fresh(t testing.TB, e *env, q string, args ...any) {
	t.Helper()
	if got, want := rows(t, p.db, q, args...), e.direct_(q, args...); got != want {
		t.Fatalf("stale read in the other process: %s = %q, database has %q", q, got, want)
	}
}
