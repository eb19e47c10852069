package cacheops_test

import (
	"fmt"
	"testing"
	"time"
)

// Hit, miss and direct-pgx latency of a point query and a 100-row result, as
// testing.B benchmarks (make bench prints the interleaved comparison table).
func BenchmarkRead(b *testing.B) {
	e := newFixture(b)
	for _, q := range []struct{ name, sql string }{
		{"point", "SELECT id, title, category_id, visible FROM post WHERE id = $1"},
		{"100rows", "SELECT g, 'row ' || g, g * 1.5 FROM generate_series(1, 100) g WHERE g > $1"},
	} {
		b.Run(q.name+"/direct", func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				rows(b, e.direct, q.sql, 1)
			}
		})
		b.Run(q.name+"/hit", func(b *testing.B) {
			rows(b, e.db, q.sql, 1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				rows(b, e.db, q.sql, 1)
			}
			if e.cache.Stats().Hits < int64(b.N) {
				b.Fatalf("not all hits: %+v", e.cache.Stats())
			}
		})
	}
}

// A miss (each iteration reads an id not read before) and an autocommit
// UPDATE by primary key invalidating a cached read, with allocations.
func BenchmarkMissAndWrite(b *testing.B) {
	e := newFixture(b)
	b.Run("miss", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			rows(b, e.db, "SELECT id, title FROM post WHERE id = $1", 1000+i)
		}
	})
	b.Run("write/direct", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			mustExec(b, e.direct, "UPDATE post SET title = $1 WHERE id = 1", fmt.Sprint(i))
		}
	})
	b.Run("write", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			rows(b, e.db, "SELECT id, title FROM post WHERE id = $1", 1) // something to invalidate
			b.StartTimer()
			mustExec(b, e.db, "UPDATE post SET title = $1 WHERE id = 1", fmt.Sprint(i))
		}
	})
}

// The same point read through pgx's own interface: a plain pgxpool and a
// WrapPool hit.
func BenchmarkPoolRead(b *testing.B) {
	e := newFixture(b)
	pool, raw := e.pools()
	const q = "SELECT id, title, category_id, visible FROM post WHERE id = $1"
	for name, db := range map[string]pgxDB{"direct": raw, "hit": pool} {
		b.Run(name, func(b *testing.B) {
			pgxRead(b, db, q, 1)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				pgxRead(b, db, q, 1)
			}
		})
	}
}

// A local hit (Options.Local) of a point query, through database/sql and
// through the pgx pool, with allocations.
func BenchmarkLocalRead(b *testing.B) {
	e := newFixture(b, withLocal(time.Second, 0))
	const q = "SELECT id, title, category_id, visible FROM post WHERE id = $1"
	pool, _ := e.pools()
	for _, api := range []string{"sql", "pgx"} {
		b.Run(api, func(b *testing.B) {
			read := func() {
				if api == "sql" {
					rows(b, e.db, q, 1)
				} else {
					pgxRead(b, pool, q, 1)
				}
			}
			for deadline := time.Now().Add(10 * time.Second); ; {
				before := e.cache.Stats().LocalHits
				read()
				if e.cache.Stats().LocalHits > before {
					break
				}
				if time.Now().After(deadline) {
					b.Fatal("no local hit")
				}
				time.Sleep(5 * time.Millisecond)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				read()
			}
		})
	}
}
