package cacheops_test

import (
	"testing"
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
