package cacheops_test

import (
	"database/sql"
	"testing"
	"time"

	"github.com/cacheops/cacheops"
)

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
