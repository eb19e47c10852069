package cacheops_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cacheops/cacheops"
)

// pgxDB is what the pool helpers read through: a *cacheops.Pool, a plain
// *pgxpool.Pool, a pgx.Tx.
type pgxDB interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// pools opens a plain pgxpool on the env's schema and wraps it with the
// env's cache; both close with the test.
func (e *env) pools(configure ...func(*pgxpool.Config)) (*cacheops.Pool, *pgxpool.Pool) {
	e.t.Helper()
	cfg, err := pgxpool.ParseConfig(withSearchPath(testDSN(), e.schema))
	if err != nil {
		e.t.Fatal(err)
	}
	for _, f := range configure {
		f(cfg)
	}
	raw, err := pgxpool.NewWithConfig(e.ctx, cfg)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() {
		// Close waits for every connection to come back: a failed test
		// may have left one out.
		done := make(chan struct{})
		go func() { raw.Close(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			e.t.Errorf("the pool did not close: %d connections still acquired", raw.Stat().AcquiredConns())
		}
	})
	return e.cache.WrapPool(raw), raw
}

// pgxRead reads a whole result through pgx as text, for comparisons.
func pgxRead(t testing.TB, db pgxDB, q string, args ...any) string {
	t.Helper()
	rs, err := db.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rs.Close()
	var out []string
	for rs.Next() {
		vals, err := rs.Values()
		if err != nil {
			t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			parts[i] = fmt.Sprint(v)
		}
		out = append(out, strings.Join(parts, " "))
	}
	if err := rs.Err(); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return strings.Join(out, "|")
}

// pgxHit reads q through db, which must answer from the cache with want.
func (e *env) pgxHit(db pgxDB, want, q string, args ...any) {
	e.t.Helper()
	hits := e.cache.Stats().Hits
	if got := pgxRead(e.t, db, q, args...); got != want || e.cache.Stats().Hits != hits+1 {
		e.t.Fatalf("%s: want a hit returning %q, got %q (hit: %v)", q, want, got, e.cache.Stats().Hits == hits+1)
	}
}

// pgxMiss reads q through db, which must go to PostgreSQL and return want.
func (e *env) pgxMiss(db pgxDB, want, q string, args ...any) {
	e.t.Helper()
	hits := e.cache.Stats().Hits
	if got := pgxRead(e.t, db, q, args...); got != want || e.cache.Stats().Hits != hits {
		e.t.Fatalf("%s: want a miss returning %q, got %q (hit: %v)", q, want, got, e.cache.Stats().Hits != hits)
	}
}

func TestPoolHitsAndInvalidatesByRow(t *testing.T) {
	e := newFixture(t)
	pool, _ := e.pools()
	ctx := e.ctx
	const q = "SELECT id, title FROM post WHERE id = $1"
	e.pgxMiss(pool, "1 Cacheops", q, 1)
	e.pgxHit(pool, "1 Cacheops", q, 1)
	e.pgxMiss(pool, "2 Implicit variable as pronoun", q, 2)

	tag, err := pool.Exec(ctx, "UPDATE post SET title = $1 WHERE id = $2", "Cacheops 2", 1)
	if err != nil || tag.String() != "UPDATE 1" {
		t.Fatalf("Exec: %v %v", tag, err)
	}
	e.pgxMiss(pool, "1 Cacheops 2", q, 1)
	e.pgxHit(pool, "2 Implicit variable as pronoun", q, 2) // another row's entry is kept

	// A write through Query (RETURNING) invalidates when its rows end.
	var title string
	if err := pool.QueryRow(ctx, "UPDATE post SET title = title || '!' WHERE id = $1 RETURNING title", 2).Scan(&title); err != nil || title != "Implicit variable as pronoun!" {
		t.Fatalf("QueryRow: %q %v", title, err)
	}
	e.pgxMiss(pool, "2 Implicit variable as pronoun!", q, 2)
	e.pgxHit(pool, "1 Cacheops 2", q, 1)
	if n := pool.Stat().AcquiredConns(); n != 0 {
		t.Fatalf("%d connections still acquired", n)
	}
}
