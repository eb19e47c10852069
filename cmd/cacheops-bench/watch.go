package main

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops"
	"github.com/cacheops/cacheops/internal/testenv"
)

// benchWatch measures the watcher on a PostgreSQL of its own with
// wal_level = logical: what it adds to writes made through cacheops (they
// are decoded and invalidated a second time), and its lag under a steady
// load of writes made outside cacheops — from commit to stamps deleted
// (Hooks.Watch), and the age of the heartbeat readers compare with
// WatchMaxLag.
func benchWatch(ctx context.Context, ropts *redis.Options, dur time.Duration) error {
	srv, err := testenv.StartLogicalPostgres()
	if err != nil {
		return err
	}
	defer srv.Stop()
	direct, err := sql.Open("pgx", srv.DSN)
	if err != nil {
		return err
	}
	defer direct.Close()
	if _, err := direct.ExecContext(ctx, `CREATE TABLE items (id int PRIMARY KEY, price int NOT NULL);
INSERT INTO items SELECT g, g FROM generate_series(1, 10000) g`); err != nil {
		return err
	}
	trips := &roundTrips{}
	rdb := redis.NewClient(ropts)
	rdb.AddHook(nodeHook{r: trips, addr: ropts.Addr})
	defer rdb.Close()
	const prefix = "benchwatch:"
	defer dropKeys(context.Background(), rdb, prefix+"*")
	var mu sync.Mutex
	var lags []time.Duration
	cache, err := cacheops.New(cacheops.Options{Redis: rdb, Prefix: prefix, Hooks: cacheops.Hooks{Watch: func(_ context.Context, e cacheops.Event) {
		mu.Lock()
		lags = append(lags, e.Duration)
		mu.Unlock()
	}}})
	if err != nil {
		return err
	}
	defer cache.Close()
	db, err := cache.OpenDB(srv.DSN)
	if err != nil {
		return err
	}
	defer db.Close()
	const upd = "UPDATE items SET price = price + 1 WHERE id = $1"
	const read = "SELECT price FROM items WHERE id = $1"

	// Writes through cacheops, each invalidating a cached row.
	writes := func() (samples []time.Duration, tripsPerWrite float64, err error) {
		var n, calls int64
		for deadline, id := time.Now().Add(dur), 1; time.Now().Before(deadline); id = id%10000 + 1 {
			if err := readAll(ctx, db, query{sql: read, args: []any{id}}); err != nil {
				return nil, 0, err
			}
			cache.Stats()                // the read's store has landed
			time.Sleep(time.Millisecond) // and the watcher's work for the last write
			trips.reset()
			start := time.Now()
			if _, err := db.ExecContext(ctx, upd, id); err != nil {
				return nil, 0, err
			}
			samples = append(samples, time.Since(start))
			time.Sleep(time.Millisecond) // the watcher's work for this write lands in this window
			c, _ := trips.get()
			calls += c
			n++
		}
		return samples, float64(calls) / float64(n), nil
	}
	off, offTrips, err := writes()
	if err != nil {
		return err
	}
	wctx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- cacheops.Watch(wctx, db, srv.DSN, cacheops.WatchOptions{}) }()
	defer func() { stop(); <-done }()
	for deadline := time.Now().Add(10 * time.Second); cache.Stats().WatchLag == 0; {
		readAll(ctx, db, query{sql: read, args: []any{1}}) // readers poll the heartbeat
		if time.Now().After(deadline) {
			return fmt.Errorf("the watcher's heartbeat never came")
		}
		time.Sleep(10 * time.Millisecond)
	}
	on, onTrips, err := writes()
	if err != nil {
		return err
	}
	fmt.Println()
	fmt.Println("| writes through cacheops (UPDATE by primary key, a cached row) | latency | Redis round trips per write (in the 1 ms after it) |")
	fmt.Println("|---|---|---|")
	fmt.Printf("| no watcher | %s | %.2f |\n", cell(off), offTrips)
	fmt.Printf("| watcher running (the write is invalidated again when decoded) | %s | %.2f |\n", cell(on), onTrips)

	// A steady load of writes made outside cacheops.
	const rate = 500
	mu.Lock()
	lags = nil
	mu.Unlock()
	var ages []time.Duration
	tick := time.NewTicker(time.Second / rate)
	defer tick.Stop()
	writesDone := 0
	for deadline, id, lastAge := time.Now().Add(dur), 1, time.Now(); time.Now().Before(deadline); id = id%10000 + 1 {
		<-tick.C
		if _, err := direct.ExecContext(ctx, upd, id); err != nil {
			return err
		}
		writesDone++
		if time.Since(lastAge) >= 10*time.Millisecond {
			ages = append(ages, cache.Stats().WatchLag)
			lastAge = time.Now()
		}
	}
	time.Sleep(time.Second) // the last ones land
	mu.Lock()
	got := append([]time.Duration(nil), lags...)
	mu.Unlock()
	if len(got) == 0 || len(ages) == 0 {
		return fmt.Errorf("the watcher measured nothing")
	}
	fmt.Println()
	fmt.Printf("| watcher, %d outside writes/s for %s | p50 | p99 | max |\n", writesDone*int(time.Second)/int(dur), dur)
	fmt.Println("|---|---|---|---|")
	fmt.Printf("| commit → stamps deleted (%d transactions) | %s | %s | %s |\n", len(got), ms(pct(got, 50)), ms(pct(got, 99)), ms(pct(got, 100)))
	fmt.Printf("| heartbeat age seen by readers (WatchMaxLag compares it; %d samples) | %s | %s | %s |\n", len(ages), ms(pct(ages, 50)), ms(pct(ages, 99)), ms(pct(ages, 100)))
	return nil
}

func ms(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
