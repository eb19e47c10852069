package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/cacheops/cacheops"
	"github.com/cacheops/cacheops/internal/pgparse"
	"github.com/cacheops/cacheops/keys"
)

// processStart is as close to the process' start as Go code gets.
var processStart = time.Now()

// benchStartup prints one row of the parser table for the engine this
// binary was built with: the time from process start to the first query
// answered through cacheops (its analysis, the catalog and the query), and
// the median time to parse and analyse statements not seen before. make
// bench builds it both ways.
func benchStartup() error {
	ctx := context.Background()
	dsn := env("CACHEOPS_BENCH_DATABASE", "postgres://root@127.0.0.1:5432/test?sslmode=disable")
	cache, db, err := openCache(cacheops.Options{RedisURL: env("CACHEOPS_BENCH_REDIS", "redis://127.0.0.1:6379/8"), Prefix: "bench-startup:"}, dsn)
	if err != nil {
		return err
	}
	defer closeCache(cache, db)
	var one int
	if err := db.QueryRowContext(ctx, "SELECT count(*) FROM pg_class WHERE relname = $1", "pg_class").Scan(&one); err != nil {
		return err
	}
	first := time.Since(processStart)
	var samples []time.Duration
	for i := range 500 {
		// A text not seen before each time: the analysis cache never helps.
		sql := fmt.Sprintf("SELECT p.id, p.title, c.title FROM post p JOIN category c ON c.id = p.category_id WHERE p.id = $1 AND c.id IN (1, 2, %d) ORDER BY p.id LIMIT 20", i)
		start := time.Now()
		if a := keys.Analyse(sql); a.ParseErr != nil {
			return a.ParseErr
		}
		samples = append(samples, time.Since(start))
	}
	sort.Slice(samples, func(i, j int) bool { return samples[i] < samples[j] })
	exe, _ := os.Executable()
	size := "?"
	if st, err := os.Stat(exe); err == nil {
		size = fmt.Sprintf("%.1f MB", float64(st.Size())/1e6)
	}
	fmt.Printf("| %s | %.0f ms | %s (p99 %s) | %s |\n", pgparse.Engine, float64(first.Microseconds())/1000, us(samples[len(samples)/2]), us(samples[len(samples)*99/100]), size)
	return nil
}

// openCache makes a cache and opens dsn through it.
func openCache(opts cacheops.Options, dsn string) (*cacheops.Cache, *sql.DB, error) {
	cache, err := cacheops.New(opts)
	if err != nil {
		return nil, nil, err
	}
	db, err := cache.OpenDB(dsn)
	if err != nil {
		cache.Close()
		return nil, nil, err
	}
	return cache, db, nil
}

func closeCache(cache *cacheops.Cache, db *sql.DB) {
	db.Close()
	cache.Close()
}
