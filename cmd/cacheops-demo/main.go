// Command cacheops-demo shows cacheops at work against a real PostgreSQL: a
// miss, a hit, a hit that survives an out-of-band change, an invalidating
// write and a rolled-back write, each with its timing.
//
// PostgreSQL comes from CACHEOPS_DEMO_DATABASE (default: the loopback test
// database). Redis comes from CACHEOPS_REDIS; when none answers, the demo
// runs on an embedded Redis (miniredis) and says so.
package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"time"

	"github.com/alicebob/miniredis/v2"
	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func run() error {
	ctx := context.Background()
	dsn := env("CACHEOPS_DEMO_DATABASE", "postgres://root@127.0.0.1:5432/test?sslmode=disable")
	rdb, where, err := redisClient(ctx)
	if err != nil {
		return err
	}
	defer rdb.Close()
	fmt.Println("Redis:", where)

	direct, err := sql.Open("pgx", dsn)
	if err != nil {
		return err
	}
	defer direct.Close()
	if _, err := direct.Exec(`DROP SCHEMA IF EXISTS cacheops_demo CASCADE; CREATE SCHEMA cacheops_demo;
CREATE TABLE cacheops_demo.post (id int PRIMARY KEY, title text NOT NULL);
INSERT INTO cacheops_demo.post VALUES (1, 'Hello'), (2, 'World')`); err != nil {
		return fmt.Errorf("PostgreSQL at %s: %w", dsn, err)
	}
	defer direct.Exec("DROP SCHEMA cacheops_demo CASCADE")

	cache, err := cacheops.New(cacheops.Options{Redis: rdb, Prefix: fmt.Sprintf("demo:%d:", time.Now().UnixNano())})
	if err != nil {
		return err
	}
	db, err := cache.OpenDB(dsn)
	if err != nil {
		return err
	}
	defer db.Close()

	const q = "SELECT title FROM cacheops_demo.post WHERE id = $1"
	read := func(label string) error {
		before := cache.Stats()
		start := time.Now()
		var title string
		if err := db.QueryRowContext(ctx, q, 1).Scan(&title); err != nil {
			return err
		}
		took := time.Since(start)
		source := "PostgreSQL (miss, now cached)"
		if cache.Stats().Hits > before.Hits {
			source = "Redis (hit)"
		}
		fmt.Printf("%-42s %-24q from %-30s %7.3f ms\n", label, title, source, float64(took.Microseconds())/1000)
		return nil
	}
	exec := func(sqlText string) func() error {
		return func() error { _, err := db.Exec(sqlText); return err }
	}
	inTx := func(sqlText string, commit bool) func() error {
		return func() error {
			tx, err := db.Begin()
			if err != nil {
				return err
			}
			if _, err := tx.Exec(sqlText); err != nil {
				tx.Rollback()
				return err
			}
			if commit {
				return tx.Commit()
			}
			return tx.Rollback()
		}
	}
	// A first query warms the connection and the catalog, so the timings
	// below show the cache, not the connection set-up.
	if _, err := db.ExecContext(ctx, "SELECT 1"); err != nil {
		return err
	}
	fmt.Println("query:", q, "with $1 = 1")
	// Each step either reads (label only) or does something first.
	steps := []struct {
		action string
		do     func() error
		read   string
	}{
		{read: "1. first read"},
		{read: "2. same read again"},
		{action: "change the row behind cacheops' back (plain pgx)", read: "3. read: still the cached row",
			do: func() error {
				_, err := direct.Exec("UPDATE cacheops_demo.post SET title = 'changed out of band' WHERE id = 1")
				return err
			}},
		{action: "UPDATE through cacheops (autocommit)", read: "4. read after the write: fresh",
			do: exec("UPDATE cacheops_demo.post SET title = 'Hello again' WHERE id = 1")},
		{read: "5. and cached again"},
		{action: "BEGIN; UPDATE through cacheops; ROLLBACK", read: "6. read after the rollback: still cached",
			do: inTx("UPDATE cacheops_demo.post SET title = 'never committed' WHERE id = 1", false)},
		{action: "BEGIN; UPDATE through cacheops; COMMIT", read: "7. read after the commit: fresh",
			do: inTx("UPDATE cacheops_demo.post SET title = 'committed' WHERE id = 1", true)},
	}
	for _, st := range steps {
		if st.do != nil {
			fmt.Println("  ->", st.action)
			if err := st.do(); err != nil {
				return err
			}
		}
		if err := read(st.read); err != nil {
			return err
		}
	}
	s := cache.Stats()
	fmt.Printf("stats: %d hits, %d misses, %d stores, %d stamps invalidated, %d Redis errors\n",
		s.Hits, s.Misses, s.Stores, s.Invalidations, s.RedisErrors)
	return nil
}

// redisClient connects to CACHEOPS_REDIS (or the loopback default), falling
// back to an embedded Redis when none answers.
func redisClient(ctx context.Context) (redis.UniversalClient, string, error) {
	url := env("CACHEOPS_REDIS", cacheops.DefaultRedisURL)
	opts, err := redis.ParseURL(url)
	if err != nil {
		return nil, "", err
	}
	rdb := redis.NewClient(opts)
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if rdb.Ping(pctx).Err() == nil {
		return rdb, url, nil
	}
	rdb.Close()
	mr, err := miniredis.Run()
	if err != nil {
		return nil, "", err
	}
	return redis.NewClient(&redis.Options{Addr: mr.Addr()}), "embedded miniredis (no Redis answered at " + url + ")", nil
}
