// Command cacheops-bench compares, in one run and interleaved, the latency of
// the same queries through plain pgx (database/sql + pgx stdlib), a cacheops
// hit, a cacheops miss, and a raw go-redis GET of a value the size of the
// cached entry. It prints medians, p99s and ratios to direct pgx as a
// Markdown table (the README's benchmark section is its output).
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops"
)

var scale, watchBench, localOnly, targetsOnly *bool

// settle waits for the cache's stores in flight (a miss's store is sent
// after its rows), so that the entries in Redis are all there.
var settle = func() {}

type query struct {
	name string
	sql  string
	args []any
}

type variant struct {
	name string
	// prepare runs untimed before each timed call.
	prepare func() error
	call    func() error
	samples []time.Duration
	first   []time.Duration // what a call timed itself, when only part of it counts
}

func main() {
	dur := flag.Duration("time", 2*time.Second, "measuring time per query")
	scale = flag.Bool("scale", true, "measure invalidation cost with 1k, 10k and 100k cached entries")
	rowsN := flag.Int("rows", 200000, "rows in the benchmark table")
	watchBench = flag.Bool("watch", true, "measure the watcher (a PostgreSQL of its own with wal_level = logical)")
	watchOnly := flag.Bool("watch-only", false, "only the watcher's tables")
	localOnly = flag.Bool("local-only", false, "only the local layer's table")
	targetsOnly = flag.Bool("targets-only", false, "only the floor-relative targets table")
	startup := flag.Bool("startup", false, "only the parser row: process start to first query, parse time, binary size")
	flag.Parse()
	if *startup {
		if err := benchStartup(); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if *watchOnly {
		ropts, err := redis.ParseURL(env("CACHEOPS_BENCH_REDIS", "redis://127.0.0.1:6379/8"))
		if err == nil {
			err = benchWatch(context.Background(), ropts, *dur)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*dur, *rowsN); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run(dur time.Duration, n int) error {
	ctx := context.Background()
	dsn := env("CACHEOPS_BENCH_DATABASE", "postgres://root@127.0.0.1:5432/test?sslmode=disable")
	ropts, err := redis.ParseURL(env("CACHEOPS_BENCH_REDIS", "redis://127.0.0.1:6379/8"))
	if err != nil {
		return err
	}
	rdb := redis.NewClient(ropts)
	defer rdb.Close()
	prefix := "bench:"
	direct, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer direct.Close()
	if err := setup(ctx, direct, n); err != nil {
		return err
	}
	cache, err := cacheops.New(cacheops.Options{Redis: rdb, Prefix: prefix})
	if err != nil {
		return err
	}
	db, err := cache.OpenDB(dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	settle = func() { cache.Stats() }
	for _, d := range []*sql.DB{direct, db} {
		d.SetMaxIdleConns(4)
	}

	queries := []query{
		{"point query (1 row)", "SELECT id, category, title, price, created FROM cacheops_bench.items WHERE id = $1", []any{4242}},
		{"list query (20 rows)", "SELECT id, category, title, price, created FROM cacheops_bench.items WHERE category = $1 ORDER BY id LIMIT 20", []any{7}},
		{fmt.Sprintf("GROUP BY over %dk rows", n/1000), "SELECT category, count(*), sum(price), max(created) FROM cacheops_bench.items GROUP BY category ORDER BY category", nil},
	}
	fmt.Printf("cacheops-bench: %s per query, interleaved; PostgreSQL and Redis on loopback; %s\n", dur, time.Now().UTC().Format("2006-01-02"))
	if *localOnly {
		return benchLocal(ctx, dsn, direct, db, rdb, prefix, dur)
	}
	if err := benchTargets(ctx, direct, db, rdb, prefix, dur); err != nil {
		return err
	}
	if *targetsOnly {
		return nil
	}
	fmt.Println()
	fmt.Println("| query | direct pgx | cacheops hit | cacheops miss | raw Redis GET (same bytes) | hit vs pgx | miss vs pgx |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, q := range queries {
		if err := bench(ctx, q, direct, db, rdb, prefix, dur); err != nil {
			return err
		}
	}
	fmt.Println()
	fmt.Println("| write | direct pgx | cacheops | overhead |")
	fmt.Println("|---|---|---|---|")
	if err := benchWrites(ctx, direct, db, dur); err != nil {
		return err
	}
	if err := benchPgx(ctx, dsn, cache, rdb, prefix, queries, dur); err != nil {
		return err
	}
	if err := benchConcurrency(ctx, direct, db, dur); err != nil {
		return err
	}
	if err := benchLocal(ctx, dsn, direct, db, rdb, prefix, dur); err != nil {
		return err
	}
	if *scale {
		if err := benchScale(ctx, db, rdb, prefix, dur); err != nil {
			return err
		}
	}
	if *watchBench {
		if err := benchWatch(ctx, ropts, dur); err != nil {
			return err
		}
	}
	s := cache.Stats()
	fmt.Printf("\n(%d hits, %d misses, %d stamps invalidated, %d Redis errors)\n", s.Hits, s.Misses, s.Invalidations, s.RedisErrors)
	return benchCluster(ctx, dsn, direct, queries, dur)
}

func setup(ctx context.Context, db *sql.DB, n int) error {
	var have int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM cacheops_bench.items").Scan(&have); err == nil && have == n {
		return nil
	}
	fmt.Fprintf(os.Stderr, "bench: creating cacheops_bench.items with %d rows\n", n)
	_, err := db.ExecContext(ctx, fmt.Sprintf(`DROP SCHEMA IF EXISTS cacheops_bench CASCADE; CREATE SCHEMA cacheops_bench;
CREATE TABLE cacheops_bench.items (id int PRIMARY KEY, category int NOT NULL, title text NOT NULL,
  price numeric(10, 2) NOT NULL, created timestamptz NOT NULL);
INSERT INTO cacheops_bench.items
  SELECT g, g %% 100, 'item number ' || g, (g %% 997) / 10.0, '2024-01-01'::timestamptz + g * interval '1 minute'
  FROM generate_series(1, %d) g;
CREATE INDEX ON cacheops_bench.items (category, id);
ANALYZE cacheops_bench.items`, n))
	return err
}

func readAll(ctx context.Context, db *sql.DB, q query) error {
	rs, err := db.QueryContext(ctx, q.sql, q.args...)
	if err != nil {
		return err
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rs.Next() {
		if err := rs.Scan(ptrs...); err != nil {
			return err
		}
	}
	return rs.Err()
}

// bench times q four ways (direct, hit, miss, a raw GET of the entry's
// size) and prints a row.
func bench(ctx context.Context, q query, direct, db *sql.DB, rdb redis.UniversalClient, prefix string, dur time.Duration) error {
	return benchReads(ctx, q.name, func() error { return readAll(ctx, direct, q) }, func() error { return readAll(ctx, db, q) }, rdb, prefix, dur)
}

// benchReads times a read directly and through cacheops (hit and miss),
// interleaved with a raw GET of a value the size of the cached entry.
func benchReads(ctx context.Context, name string, direct, cached func() error, rdb redis.UniversalClient, prefix string, dur time.Duration) error {
	dropEntries := func() error { settle(); return dropKeys(ctx, rdb, prefix+"{*}e:*") }
	// Warm up, and find the size of the cached entry.
	if err := dropEntries(); err != nil {
		return err
	}
	for i := 0; i < 3; i++ {
		if err := direct(); err != nil {
			return err
		}
		if err := cached(); err != nil {
			return err
		}
	}
	settle()
	keys, err := allKeys(ctx, rdb, prefix+"{*}e:*")
	if err != nil || len(keys) != 1 {
		return fmt.Errorf("expected one cached entry, found %d (%v)", len(keys), err)
	}
	size := rdb.StrLen(ctx, keys[0]).Val()
	rawKey := prefix + "raw"
	if err := rdb.Set(ctx, rawKey, strings.Repeat("x", int(size)), 0).Err(); err != nil {
		return err
	}
	hitKey := keys[0]
	variants := []*variant{
		{name: "direct", call: direct},
		{name: "hit", call: cached, prepare: func() error {
			if rdb.Exists(ctx, hitKey).Val() == 0 {
				return cached()
			}
			return nil
		}},
		{name: "miss", call: cached, prepare: dropEntries},
		{name: "redis", call: func() error { return rdb.Get(ctx, rawKey).Err() }},
	}
	if err := interleave(variants, dur); err != nil {
		return err
	}
	d, h, m := median(variants[0].samples), median(variants[1].samples), median(variants[2].samples)
	fmt.Printf("| %s | %s | %s | %s | %s (%d B) | %s | %.2fx |\n", name,
		cell(variants[0].samples), cell(variants[1].samples), cell(variants[2].samples), cell(variants[3].samples), size,
		speed(d, h), float64(m)/float64(d))
	return nil
}

// speed says how much faster (or slower) than base a time is.
func speed(base, t time.Duration) string {
	if t <= base {
		return fmt.Sprintf("%.1fx faster", float64(base)/float64(t))
	}
	return fmt.Sprintf("%.1fx slower", float64(t)/float64(base))
}

func median(s []time.Duration) time.Duration { return pct(s, 50) }

func pct(s []time.Duration, p int) time.Duration {
	c := append([]time.Duration(nil), s...)
	sort.Slice(c, func(i, j int) bool { return c[i] < c[j] })
	return c[(len(c)-1)*p/100]
}

func cell(s []time.Duration) string {
	return fmt.Sprintf("%s (p99 %s)", us(median(s)), us(pct(s, 99)))
}

func us(d time.Duration) string {
	if d < 10*time.Microsecond {
		return fmt.Sprintf("%.1f µs", float64(d.Nanoseconds())/1000)
	}
	return fmt.Sprintf("%.0f µs", float64(d.Nanoseconds())/1000)
}

// benchWrites times writes that invalidate: an autocommit UPDATE by primary
// key and a transaction of three UPDATEs, interleaved with the same through
// pgx directly. A point read of the row is cached first, so the write has
// something to invalidate.
func benchWrites(ctx context.Context, direct, db *sql.DB, dur time.Duration) error {
	const upd = "UPDATE cacheops_bench.items SET price = price + 1 WHERE id = $1"
	const read = "SELECT id, title, price FROM cacheops_bench.items WHERE id = $1"
	tx3 := func(d *sql.DB, id int) error {
		tx, err := d.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		for i := 0; i < 3; i++ {
			if _, err := tx.ExecContext(ctx, upd, id+i); err != nil {
				tx.Rollback()
				return err
			}
		}
		return tx.Commit()
	}
	writes := []struct {
		name string
		do   func(d *sql.DB, id int) error
	}{
		{"autocommit UPDATE by primary key", func(d *sql.DB, id int) error { _, err := d.ExecContext(ctx, upd, id); return err }},
		{"transaction of 3 UPDATEs by primary key", tx3},
	}
	for _, w := range writes {
		var dSamples, cSamples []time.Duration
		id := 1000
		deadline := time.Now().Add(dur)
		for time.Now().Before(deadline) {
			id = id%150000 + 7
			if err := readAll(ctx, db, query{sql: read, args: []any{id}}); err != nil { // cache something to invalidate
				return err
			}
			settle() // its store, sent after the rows, has landed
			start := time.Now()
			if err := w.do(direct, id); err != nil {
				return err
			}
			dSamples = append(dSamples, time.Since(start))
			start = time.Now()
			if err := w.do(db, id); err != nil {
				return err
			}
			cSamples = append(cSamples, time.Since(start))
		}
		fmt.Printf("| %s | %s | %s | +%s (%.2fx) |\n", w.name, cell(dSamples), cell(cSamples),
			us(median(cSamples)-median(dSamples)), float64(median(cSamples))/float64(median(dSamples)))
	}
	return nil
}

// benchScale shows that a write's invalidation costs the same however many
// entries are cached: it fills 1k, 10k and 100k point-query entries on the
// table and times an UPDATE by primary key at each size.
func benchScale(ctx context.Context, db *sql.DB, rdb *redis.Client, prefix string, dur time.Duration) error {
	const read = "SELECT id, category, title FROM cacheops_bench.items WHERE id = $1"
	const upd = "UPDATE cacheops_bench.items SET price = price + 1 WHERE id = $1"
	fmt.Println()
	fmt.Println("| cached entries on the table | UPDATE by primary key (median) | vs 1k |")
	fmt.Println("|---|---|---|")
	filled := 0
	var base time.Duration
	for _, n := range []int{1000, 10000, 100000} {
		if err := fill(ctx, db, read, filled+1, n); err != nil {
			return err
		}
		filled = n
		entries := 0
		iter := rdb.Scan(ctx, 0, prefix+"{*}e:*", 10000).Iterator()
		for iter.Next(ctx) {
			entries++
		}
		var samples []time.Duration
		deadline := time.Now().Add(dur / 2)
		for id := 150001; time.Now().Before(deadline); id++ {
			start := time.Now()
			if _, err := db.ExecContext(ctx, upd, id); err != nil {
				return err
			}
			samples = append(samples, time.Since(start))
		}
		m := median(samples)
		if base == 0 {
			base = m
		}
		fmt.Printf("| %d (%d entries in Redis) | %s | %.2fx |\n", n, entries, cell(samples), float64(m)/float64(base))
	}
	return nil
}

// fill caches the point reads of ids from..to with eight workers.
func fill(ctx context.Context, db *sql.DB, read string, from, to int) error {
	ids := make(chan int)
	errs := make(chan error, 8)
	for w := 0; w < 8; w++ {
		go func() {
			for id := range ids {
				if err := readAll(ctx, db, query{sql: read, args: []any{id}}); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for id := from; id <= to; id++ {
		ids <- id
	}
	close(ids)
	for w := 0; w < 8; w++ {
		if err := <-errs; err != nil {
			return err
		}
	}
	return nil
}

// benchConcurrency measures throughput and latency with 1, 8 and 64
// goroutines: point reads through pgx, cacheops hits and misses, and UPDATEs
// by primary key through both.
func benchConcurrency(ctx context.Context, direct, db *sql.DB, dur time.Duration) error {
	const read = "SELECT id, category, title, price, created FROM cacheops_bench.items WHERE id = $1"
	const upd = "UPDATE cacheops_bench.items SET price = price + 1 WHERE id = $1"
	var next atomic.Int64
	next.Store(1)
	fresh := func() int { return int(next.Add(1)%199000) + 1 } // a new entry each time: a miss
	hot := func() int { return 4242 }
	variants := []struct {
		name string
		db   *sql.DB
		op   func() error
	}{
		{"pgx read", direct, func() error { return readAll(ctx, direct, query{sql: read, args: []any{hot()}}) }},
		{"cacheops hit", db, func() error { return readAll(ctx, db, query{sql: read, args: []any{hot()}}) }},
		{"cacheops miss", db, func() error { return readAll(ctx, db, query{sql: read, args: []any{fresh()}}) }},
		{"pgx UPDATE", direct, func() error { _, err := direct.ExecContext(ctx, upd, 150000+rand.IntN(40000)); return err }},
		{"cacheops UPDATE", db, func() error { _, err := db.ExecContext(ctx, upd, 150000+rand.IntN(40000)); return err }},
	}
	fmt.Println()
	fmt.Print("| goroutines |")
	for _, v := range variants {
		fmt.Printf(" %s |", v.name)
	}
	fmt.Print("\n|---|")
	for range variants {
		fmt.Print("---|")
	}
	fmt.Println()
	for _, g := range []int{1, 8, 64} {
		fmt.Printf("| %d |", g)
		for _, v := range variants {
			// Only the pool in use keeps connections: PostgreSQL allows
			// 100 in all.
			for _, d := range []*sql.DB{direct, db} {
				if d == v.db {
					d.SetMaxOpenConns(g)
					d.SetMaxIdleConns(g)
				} else {
					d.SetMaxIdleConns(0)
				}
			}
			// Warm up: open the pool's connections outside the measurement.
			if _, _, err := runConcurrent(g, dur/8, v.op); err != nil {
				return fmt.Errorf("%s: %w", v.name, err)
			}
			ops, lat, err := runConcurrent(g, dur/4, v.op)
			if err != nil {
				return fmt.Errorf("%s: %w", v.name, err)
			}
			fmt.Printf(" %.0f/s (p50 %s, p99 %s) |", ops, us(pct(lat, 50)), us(pct(lat, 99)))
		}
		fmt.Println()
	}
	for _, d := range []*sql.DB{direct, db} {
		d.SetMaxOpenConns(8)
		d.SetMaxIdleConns(4)
	}
	return nil
}

func runConcurrent(g int, dur time.Duration, op func() error) (float64, []time.Duration, error) {
	var mu sync.Mutex
	var all []time.Duration
	var firstErr error
	var wg sync.WaitGroup
	deadline := time.Now().Add(dur)
	for i := 0; i < g; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			for time.Now().Before(deadline) {
				start := time.Now()
				if err := op(); err != nil {
					mu.Lock()
					firstErr = err
					mu.Unlock()
					return
				}
				mine = append(mine, time.Since(start))
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return 0, nil, firstErr
	}
	if len(all) == 0 {
		return 0, []time.Duration{0}, nil
	}
	return float64(len(all)) / dur.Seconds(), all, nil
}
