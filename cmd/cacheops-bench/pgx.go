package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops"
)

type pgxQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// readAllPgx reads every row's values, as a pgx caller scanning into
// typed values would decode them.
func readAllPgx(ctx context.Context, db pgxQuerier, q query) error {
	rows, err := db.Query(ctx, q.sql, q.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if _, err := rows.Values(); err != nil {
			return err
		}
	}
	return rows.Err()
}

// benchPgx compares pgx's own interface: a plain pgxpool against the same
// pool wrapped by cacheops (hit, miss), and a raw GET of the entry's size.
func benchPgx(ctx context.Context, dsn string, cache *cacheops.Cache, rdb redis.UniversalClient, prefix string, queries []query, dur time.Duration) error {
	raw, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return err
	}
	defer raw.Close()
	pool := cache.WrapPool(raw)
	fmt.Println()
	fmt.Println("| pgx (pgxpool) | plain pgxpool | WrapPool hit | WrapPool miss | raw Redis GET (same bytes) | hit vs pgxpool | miss vs pgxpool |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, q := range queries {
		err := benchReads(ctx, q.name, func() error { return readAllPgx(ctx, raw, q) }, func() error { return readAllPgx(ctx, pool, q) }, rdb, prefix, dur)
		if err != nil {
			return err
		}
	}

	// A write that invalidates a cached point read, against the plain pool.
	const upd = "UPDATE cacheops_bench.items SET price = price + 1 WHERE id = $1"
	const read = "SELECT id, title, price FROM cacheops_bench.items WHERE id = $1"
	var dSamples, cSamples []time.Duration
	id := 1000
	for deadline := time.Now().Add(dur); time.Now().Before(deadline); {
		id = id%150000 + 7
		if err := readAllPgx(ctx, pool, query{sql: read, args: []any{id}}); err != nil {
			return err
		}
		start := time.Now()
		if _, err := raw.Exec(ctx, upd, id); err != nil {
			return err
		}
		dSamples = append(dSamples, time.Since(start))
		start = time.Now()
		if _, err := pool.Exec(ctx, upd, id); err != nil {
			return err
		}
		cSamples = append(cSamples, time.Since(start))
	}
	fmt.Println()
	fmt.Println("| pgx write | plain pgxpool | WrapPool | overhead |")
	fmt.Println("|---|---|---|---|")
	fmt.Printf("| autocommit UPDATE by primary key | %s | %s | +%s (%.2fx) |\n", cell(dSamples), cell(cSamples),
		us(median(cSamples)-median(dSamples)), float64(median(cSamples))/float64(median(dSamples)))
	return nil
}

// interleave runs each variant in turn until dur has passed.
func interleave(variants []*variant, dur time.Duration) error {
	order := append([]*variant(nil), variants...)
	for deadline := time.Now().Add(dur); time.Now().Before(deadline); {
		// A new order each round: what runs just before a call (a miss's
		// background store, a warmed cache) must not favour one variant.
		rand.Shuffle(len(order), func(i, j int) { order[i], order[j] = order[j], order[i] })
		for _, v := range order {
			if v.prepare != nil {
				if err := v.prepare(); err != nil {
					return err
				}
			}
			start := time.Now()
			if err := v.call(); err != nil {
				return err
			}
			v.samples = append(v.samples, time.Since(start))
		}
	}
	return nil
}
