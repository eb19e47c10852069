package main

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"strings"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// benchTargets measures every path against its floor in one interleaved
// run and prints the table: a hit against a raw GET of a value as
// large as its entry, a miss and a write by how many such GETs they add to
// direct pgx, hits per second against pgx point reads at 8 and 64
// goroutines, and the first row of a large miss against pgx's.
func benchTargets(ctx context.Context, direct, db *sql.DB, rdb redis.UniversalClient, prefix string, dur time.Duration) error {
	const cols = "id, category, title, price, created"
	reads := []struct {
		name, sql string
		arg       any
		target    float64
	}{
		{"point hit (1 row)", "SELECT " + cols + " FROM cacheops_bench.items WHERE id = $1", 4242, 1.3},
		{"20-row hit", "SELECT " + cols + " FROM cacheops_bench.items WHERE category = $1 ORDER BY id LIMIT 20", 7, 1.3},
		{"GROUP BY hit (10 rows: numeric avg)", "SELECT category, count(*), avg(price) FROM cacheops_bench.items WHERE category < $1 GROUP BY category ORDER BY category", 10, 1.3},
		{"GROUP BY hit (100 rows: numeric sum, timestamptz max)", "SELECT category, count(*), sum(price), max(created) FROM cacheops_bench.items WHERE category < $1 GROUP BY category ORDER BY category", 1000, 1.3},
	}
	var variants []*variant
	floors := map[string]*variant{}
	hits := map[string]*variant{}
	for _, r := range reads {
		q := query{sql: r.sql, args: []any{r.arg}}
		for i := 0; i < 2; i++ {
			if err := readAll(ctx, db, q); err != nil {
				return err
			}
		}
		size, err := entrySize(ctx, db, rdb, prefix, q)
		if err != nil {
			return err
		}
		key := floorKey(prefix, r.name)
		if err := rdb.Set(ctx, key, strings.Repeat("x", size), 0).Err(); err != nil {
			return err
		}
		floors[r.name] = &variant{name: fmt.Sprintf("GET %d B", size), call: func() error { return rdb.Get(ctx, key).Err() }}
		hits[r.name] = &variant{name: r.name, call: func() error { return readAll(ctx, db, q) }}
		variants = append(variants, floors[r.name], hits[r.name])
	}
	// A first-time point miss: a new id each time, on a read that mostly
	// misses (a text of its own, so its plan learns that).
	const point = "SELECT " + cols + " FROM cacheops_bench.items WHERE id = $1 AND category >= 0"
	var next atomic.Int64
	next.Store(int64(time.Now().UnixNano() % 100000))
	fresh := func() int { return int(next.Add(1)%199000) + 1 }
	missDirect := &variant{name: "direct point read", call: func() error { return readAll(ctx, direct, query{sql: point, args: []any{fresh()}}) }}
	miss := &variant{name: "first-time point miss", call: func() error { return readAll(ctx, db, query{sql: point, args: []any{fresh()}}) }}
	// Its floor, the direct read with a GET before and after it: what a GET
	// costs around a query, which on a small VM is more than in a loop of
	// GETs (the servers and CPUs have gone idle in between).
	pointKey := floorKey(prefix, reads[0].name)
	get := func() error { return rdb.Get(ctx, pointKey).Err() }
	missFloor := &variant{name: "GET, direct point read, GET", call: func() error {
		if err := get(); err != nil {
			return err
		}
		if err := readAll(ctx, direct, query{sql: point, args: []any{fresh()}}); err != nil {
			return err
		}
		return get()
	}}
	// An autocommit UPDATE by primary key that invalidates a cached row.
	const upd = "UPDATE cacheops_bench.items SET price = price + 1 WHERE id = $1"
	const read = "SELECT id, title, price FROM cacheops_bench.items WHERE id = $1"
	row := 1000
	cacheRow := func() error {
		row = row%150000 + 7
		err := readAll(ctx, db, query{sql: read, args: []any{row}})
		settle() // the row is cached once its store, sent after the rows, has landed
		return err
	}
	updDirect := &variant{name: "direct UPDATE", prepare: cacheRow, call: func() error { _, err := direct.ExecContext(ctx, upd, row); return err }}
	updCached := &variant{name: "cacheops UPDATE", prepare: cacheRow, call: func() error { _, err := db.ExecContext(ctx, upd, row); return err }}
	// Its floor: the direct UPDATE, then a GET (one round trip after a
	// commit, the least a write that invalidates can add).
	updFloor := &variant{name: "direct UPDATE, GET", prepare: cacheRow, call: func() error {
		if _, err := direct.ExecContext(ctx, upd, row); err != nil {
			return err
		}
		return get()
	}}
	// The unit for the miss and the write is the point entry's GET timed
	// with the hits: one timed right after a miss would pay for its store,
	// sent in the background, and flatter the miss.
	pointGet := floors[reads[0].name]
	// The first row of a 9,000-row miss: the time until Next returns the
	// first row (closing, which reads the rest, is not timed).
	const big = "SELECT " + cols + " FROM cacheops_bench.items WHERE id <= $1 AND category >= $2"
	bigN := 0
	firstRow := func(d *sql.DB) *variant {
		v := &variant{}
		v.call = func() error {
			bigN++ // a new entry each time: a miss
			start := time.Now()
			rs, err := d.QueryContext(ctx, big, 9000, -bigN)
			if err != nil {
				return err
			}
			rs.Next()
			v.first = append(v.first, time.Since(start))
			return rs.Close()
		}
		return v
	}
	bigDirect, bigMiss := firstRow(direct), firstRow(db)
	// Writes apart: each would invalidate the GROUP BY's entry.
	for _, vs := range [][]*variant{variants, {missDirect, miss, missFloor}, {updDirect, updCached, updFloor}, {bigDirect, bigMiss}} {
		if err := interleave(vs, dur); err != nil {
			return err
		}
	}
	// Throughput of point hits against pgx point reads: alternating short
	// rounds, so that a burst of noise on a shared machine falls on both.
	// One pool holds its connections at a time (both would pass
	// PostgreSQL's max_connections at 64).
	hot := query{sql: reads[0].sql, args: []any{reads[0].arg}}
	throughput := map[int][]float64{}
	for _, g := range []int{8, 64} {
		got, _, err := alternate(g, dur, []*sql.DB{direct, db}, func(d *sql.DB) error { return readAll(ctx, d, hot) })
		if err != nil {
			return err
		}
		throughput[g] = got
	}

	fmt.Println()
	fmt.Println("| path | cacheops | floor | against the floor | target | holds |")
	fmt.Println("|---|---|---|---|---|---|")
	holds := func(ok bool) string {
		if ok {
			return "yes"
		}
		return "**no**"
	}
	for _, r := range reads {
		h, f := median(hits[r.name].samples), median(floors[r.name].samples)
		ratio := float64(h) / float64(f)
		fmt.Printf("| %s | %s | %s %s | %.2f GETs | ≤ %.1f GETs | %s |\n", r.name, cell(hits[r.name].samples),
			floors[r.name].name, cell(floors[r.name].samples), ratio, r.target, holds(ratio <= r.target))
	}
	added := func(c, d, get *variant) float64 {
		return float64(median(c.samples)-median(d.samples)) / float64(median(get.samples))
	}
	// GETs in place: what cacheops adds over direct, in GETs as they cost
	// where cacheops makes its round trips (around a query, after a commit).
	// A floor no slower than direct (noise) measures no GET: NaN, which
	// holds no target.
	inPlace := func(c, d, floor *variant, gets int) (float64, time.Duration) {
		one := (median(floor.samples) - median(d.samples)) / time.Duration(gets)
		if one <= 0 {
			return math.NaN(), one
		}
		return float64(median(c.samples)-median(d.samples)) / float64(one), one
	}
	mhot := added(miss, missDirect, pointGet)
	m, mget := inPlace(miss, missDirect, missFloor, 2)
	fmt.Printf("| first-time point miss | %s | direct %s; a GET around it %s (in a loop %s) | direct + %.2f GETs (%.2f GETs of a loop) | ≤ direct + 2 GETs | %s |\n",
		cell(miss.samples), cell(missDirect.samples), us(mget), us(median(pointGet.samples)), m, mhot, holds(m <= 2))
	whot := added(updCached, updDirect, pointGet)
	w, wget := inPlace(updCached, updDirect, updFloor, 1)
	fmt.Printf("| autocommit UPDATE by PK invalidating a cached row | %s | direct %s; a GET after it %s (in a loop %s) | direct + %.2f GETs (%.2f GETs of a loop) | ≤ direct + 1 GET | %s |\n",
		cell(updCached.samples), cell(updDirect.samples), us(wget), us(median(pointGet.samples)), w, whot, holds(w <= 1))
	for _, g := range []int{8, 64} {
		t := throughput[g]
		fmt.Printf("| point hits, %d goroutines | %.0f/s | pgx %.0f/s | %.2fx pgx | ≥ 1.0x pgx | %s |\n", g, t[1], t[0], t[1]/t[0], holds(t[1] >= t[0]))
	}
	b := float64(median(bigMiss.first)) / float64(median(bigDirect.first))
	fmt.Printf("| first row of a 9,000-row miss | %s | pgx %s | %.1fx pgx | within 2x of pgx | %s |\n",
		cell(bigMiss.first), cell(bigDirect.first), b, holds(b <= 2))
	return nil
}

// floorKey is the key of the raw value a read's floor GETs.
func floorKey(prefix, read string) string { return prefix + "floor:" + read }

// entrySize is the size of q's cached entry: the one entry that appears when
// it is read with the others dropped.
func entrySize(ctx context.Context, db *sql.DB, rdb redis.UniversalClient, prefix string, q query) (int, error) {
	settle()
	if err := dropKeys(ctx, rdb, prefix+"{*}e:*"); err != nil {
		return 0, err
	}
	if err := readAll(ctx, db, q); err != nil {
		return 0, err
	}
	settle() // the store is sent after the rows
	keys, err := allKeys(ctx, rdb, prefix+"{*}e:*")
	if err != nil || len(keys) != 1 {
		return 0, fmt.Errorf("expected one cached entry, found %d (%v)", len(keys), err)
	}
	return int(rdb.StrLen(ctx, keys[0]).Val()), nil
}

// alternate measures op's throughput and latency at g goroutines on each
// of dbs in alternating short rounds, so that a burst of noise on a shared
// machine falls on all. One pool holds its connections at a time (two
// would pass PostgreSQL's max_connections at 64); afterwards each keeps 8.
func alternate(g int, dur time.Duration, dbs []*sql.DB, op func(*sql.DB) error) ([]float64, [][]time.Duration, error) {
	const rounds = 4
	got := make([]float64, len(dbs))
	lat := make([][]time.Duration, len(dbs))
	for r := 0; r < rounds; r++ {
		for i, d := range dbs {
			d.SetMaxOpenConns(g)
			d.SetMaxIdleConns(g)
			call := func() error { return op(d) }
			if _, _, err := runConcurrent(g, dur/16, call); err != nil {
				return nil, nil, err
			}
			ops, l, err := runConcurrent(g, dur/(2*rounds), call)
			if err != nil {
				return nil, nil, err
			}
			got[i] += ops / rounds
			lat[i] = append(lat[i], l...)
			d.SetMaxIdleConns(0)
		}
	}
	for _, d := range dbs {
		d.SetMaxOpenConns(8)
		d.SetMaxIdleConns(8)
	}
	return got, lat, nil
}
