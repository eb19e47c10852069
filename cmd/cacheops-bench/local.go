package main

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops"
)

// localBound is the local layer's MaxStaleness in the bench.
const localBound = 100 * time.Millisecond

// benchLocal measures the local layer (Options.Local) against direct pgx: a
// point hit, point hits at 64 goroutines, how late another process' writes
// are seen and how often reads are local under them, and the memory it
// holds under a working set ten times its MaxBytes.
func benchLocal(ctx context.Context, dsn string, direct, writer *sql.DB, rdb redis.UniversalClient, prefix string, dur time.Duration) error {
	cache, db, err := openCache(cacheops.Options{Redis: rdb, Prefix: prefix, Local: cacheops.LocalOptions{MaxStaleness: localBound}}, dsn)
	if err != nil {
		return err
	}
	defer closeCache(cache, db)
	point := query{sql: "SELECT id, category, title, price, created FROM cacheops_bench.items WHERE id = $1", args: []any{4242}}
	if err := awaitLocal(ctx, cache, db, point); err != nil {
		return err
	}
	pgxV := &variant{name: "direct pgx", call: func() error { return readAll(ctx, direct, point) }}
	localV := &variant{name: "local hit", call: func() error { return readAll(ctx, db, point) }}
	if err := interleave([]*variant{pgxV, localV}, dur); err != nil {
		return err
	}
	holds := holdsText
	fmt.Println()
	fmt.Printf("Local layer (MaxStaleness %s):\n\n", localBound)
	fmt.Println("| path | local | direct pgx | against pgx | target | holds |")
	fmt.Println("|---|---|---|---|---|---|")
	speedup := float64(median(pgxV.samples)) / float64(median(localV.samples))
	fmt.Printf("| point hit | %s | %s | %.1fx faster | ≥ 20x faster | %s |\n", cell(localV.samples), cell(pgxV.samples), speedup, holds(speedup >= 20))

	// 64 goroutines (a local hit still takes one of database/sql's
	// connections).
	const g = 64
	got, lat, err := alternate(g, dur, []*sql.DB{direct, db}, func(d *sql.DB) error { return readAll(ctx, d, point) })
	if err != nil {
		return err
	}
	fmt.Printf("| point hits, %d goroutines | %.0f/s (p50 %s, p99 %s) | %.0f/s (p50 %s, p99 %s) | %.1fx pgx | ≥ 10x pgx | %s |\n",
		g, got[1], us(pct(lat[1], 50)), us(pct(lat[1], 99)), got[0], us(pct(lat[0], 50)), us(pct(lat[0], 99)), got[1]/got[0], holds(got[1] >= 10*got[0]))

	if err := benchLocalStaleness(ctx, cache, db, writer, dur); err != nil {
		return err
	}
	return benchLocalMemory(ctx, dsn, rdb, prefix)
}

// awaitLocal reads q until it is answered from memory (the tracking
// connections' first heartbeat opens the layer).
func awaitLocal(ctx context.Context, cache *cacheops.Cache, db *sql.DB, q query) error {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		before := cache.Stats().LocalHits
		if err := readAll(ctx, db, q); err != nil {
			return err
		}
		if cache.Stats().LocalHits > before {
			return nil
		}
		time.Sleep(5 * time.Millisecond)
	}
	return fmt.Errorf("no local hit in 10 s: %+v", cache.Stats())
}

// benchLocalStaleness: another process (writer, a cache without a local
// layer) updates one of 200 rows every 2 ms while 4 goroutines here read
// them: how many reads were local, and how stale the reads were (how long
// before each began the oldest write it missed had returned).
func benchLocalStaleness(ctx context.Context, cache *cacheops.Cache, db, writer *sql.DB, dur time.Duration) error {
	const rows, base = 200, 190000
	const read = "SELECT price FROM cacheops_bench.items WHERE id = $1"
	const upd = "UPDATE cacheops_bench.items SET price = $2 WHERE id = $1"
	var version atomic.Int64
	version.Store(time.Now().UnixNano() % 1000000)
	type write struct {
		id   int
		ver  int64
		done time.Time
	}
	type seen struct {
		id    int
		ver   int64
		start time.Time
	}
	var mu sync.Mutex
	var writes []write
	var reads []seen
	before := cache.Stats()
	runCtx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	var wg sync.WaitGroup
	var firstErr atomic.Value
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; runCtx.Err() == nil; i++ {
			id, v := base+i%rows, version.Add(1)
			if _, err := writer.ExecContext(ctx, upd, id, float64(v)/100); err != nil {
				firstErr.Store(err)
				return
			}
			mu.Lock()
			writes = append(writes, write{id, v, time.Now()})
			mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	}()
	for r := 0; r < 4; r++ {
		wg.Add(1)
		go func(r int) {
			defer wg.Done()
			var mine []seen
			for i := r; runCtx.Err() == nil; i++ {
				id := base + i%rows
				start := time.Now()
				var price float64
				if err := db.QueryRowContext(ctx, read, id).Scan(&price); err != nil {
					firstErr.Store(err)
					return
				}
				mine = append(mine, seen{id, int64(price*100 + 0.5), start})
			}
			mu.Lock()
			reads = append(reads, mine...)
			mu.Unlock()
		}(r)
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return err
	}
	after := cache.Stats()
	// A read's staleness: how long before it started the oldest write it
	// missed had returned (zero when it missed none). One writer: a row's
	// versions grow with its writes' times.
	byID := map[int][]write{}
	for _, w := range writes {
		byID[w.id] = append(byID[w.id], w)
	}
	var stale []time.Duration
	violations := 0
	for _, r := range reads {
		ws := byID[r.id]
		i := sort.Search(len(ws), func(i int) bool { return ws[i].ver > r.ver }) // the first write it did not see
		if i < len(ws) && ws[i].done.Before(r.start) {
			d := r.start.Sub(ws[i].done)
			stale = append(stale, d)
			if d > localBound {
				violations++ // stale past the bound: the promise broken
			}
		}
	}
	dist := "none"
	if len(stale) > 0 {
		dist = fmt.Sprintf("%d reads (%.2f%%) behind: p50 %s, p99 %s, max %s", len(stale), 100*float64(len(stale))/float64(len(reads)),
			us(pct(stale, 50)), us(pct(stale, 99)), us(pct(stale, 100)))
	}
	local := after.LocalHits - before.LocalHits
	total := len(reads)
	fmt.Printf("| another process' writes (one every 2 ms over 200 rows), 4 readers | %d reads, %.1f%% local | staleness: %s | %d reads stale past %s | 0 | %s |\n",
		total, 100*float64(local)/float64(max(total, 1)), dist, violations, localBound, holdsText(violations == 0))
	return nil
}

// benchLocalMemory reads a working set ten times MaxBytes through a local
// layer of 4 MiB and reports what it holds: its own count, and the Go heap
// it adds (after a GC, against the heap once its first entry was read).
func benchLocalMemory(ctx context.Context, dsn string, rdb redis.UniversalClient, prefix string) error {
	const maxBytes = 4 << 20
	cache, db, err := openCache(cacheops.Options{Redis: rdb, Prefix: prefix, Local: cacheops.LocalOptions{MaxStaleness: localBound, MaxBytes: maxBytes}}, dsn)
	if err != nil {
		return err
	}
	defer closeCache(cache, db)
	// A 20-row read's entry is about 2 KB, counted as about 4.5 KB: 10x
	// MaxBytes is about 9,000 entries.
	const list = "SELECT id, category, title, price, created FROM cacheops_bench.items WHERE category = $1 AND id > $2 ORDER BY id LIMIT 20"
	if err := awaitLocal(ctx, cache, db, query{sql: list, args: []any{1, 0}}); err != nil {
		return err
	}
	// The heap before: the cache, its connections and its plan made.
	runtime.GC()
	var m0 runtime.MemStats
	runtime.ReadMemStats(&m0)
	const keys = 9000
	for pass := 0; pass < 2; pass++ {
		for k := 0; k < keys; k++ {
			if err := readAll(ctx, db, query{sql: list, args: []any{k % 100, k / 100 * 100}}); err != nil {
				return err
			}
		}
	}
	s := cache.Stats()
	runtime.GC()
	var m1 runtime.MemStats
	runtime.ReadMemStats(&m1)
	heap := int64(m1.HeapAlloc) - int64(m0.HeapAlloc)
	fmt.Printf("| memory, working set of %d 20-row reads (10x MaxBytes) | %d entries counted as %.1f MiB; Go heap +%.1f MiB | MaxBytes %d MiB | heap %.2fx MaxBytes | within MaxBytes (heap ≤ 1.1x) | %s |\n",
		keys, s.LocalEntries, float64(s.LocalBytes)/(1<<20), float64(heap)/(1<<20), maxBytes>>20, float64(heap)/maxBytes, holdsText(s.LocalBytes <= maxBytes && heap <= maxBytes*11/10))
	return nil
}

func holdsText(ok bool) string {
	if ok {
		return "yes"
	}
	return "**no**"
}
