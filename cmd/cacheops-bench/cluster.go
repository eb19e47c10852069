package main

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops"
)

// benchCluster repeats the read table on a Redis Cluster (the one
// scripts/services.sh starts, or CACHEOPS_BENCH_CLUSTER) and counts the
// round trips each path makes to the nodes: the cost of spreading keys.
func benchCluster(ctx context.Context, dsn string, direct *sql.DB, queries []query, dur time.Duration) error {
	url := env("CACHEOPS_BENCH_CLUSTER", "redis://127.0.0.1:7001?addr=127.0.0.1:7002&addr=127.0.0.1:7003")
	o, err := redis.ParseClusterURL(url)
	if err != nil {
		return err
	}
	trips := &roundTrips{}
	rdb := redis.NewClusterClient(o)
	defer rdb.Close()
	rdb.OnNewNode(func(c *redis.Client) { c.AddHook(nodeHook{trips, c.Options().Addr}) })
	if err := rdb.Ping(ctx).Err(); err != nil {
		fmt.Printf("\n(no Redis Cluster at %s: run `make services`; cluster rows skipped)\n", url)
		return nil
	}
	prefix := "bench:"
	cache, err := cacheops.New(cacheops.Options{Redis: rdb, Prefix: prefix})
	if err != nil {
		return err
	}
	db, err := cache.OpenDB(dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxIdleConns(4)
	settle = func() { cache.Stats() }
	fmt.Printf("\nOn a 3-master Redis Cluster (%s):\n\n", url)
	fmt.Println("| query | direct pgx | cacheops hit | cacheops miss | raw Redis GET (same bytes) | hit vs pgx | miss vs pgx |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, q := range queries {
		if err := bench(ctx, q, direct, db, rdb, prefix, dur); err != nil {
			return err
		}
	}
	// Round trips: what one hit, one miss and one invalidating write send,
	// counted per node (a pipeline to a node is one round trip; the nodes
	// of one step are sent to in parallel) by the client's hooks: through a
	// cache whose lookups go through the client too, so that they see them.
	counted, err := cacheops.New(cacheops.Options{Redis: rdb, Prefix: prefix, LookupsThroughClient: true})
	if err != nil {
		return err
	}
	cdb, err := counted.OpenDB(dsn)
	if err != nil {
		return err
	}
	defer cdb.Close()
	defer counted.Close()
	settle = func() { counted.Stats() }
	q := queries[0]
	// Its first read loads the catalog and the schema's tokens (on every
	// node): once per process, not what a miss costs.
	if err := readAll(ctx, cdb, q); err != nil {
		return err
	}
	settle()
	count := func(f func() error) (string, error) {
		trips.reset()
		if err := f(); err != nil {
			return "", err
		}
		n, nodes := trips.get()
		return fmt.Sprintf("%d round trips to %d nodes", n, nodes), nil
	}
	if err := dropKeys(ctx, rdb, prefix+"{*}e:*"); err != nil {
		return err
	}
	miss, err := count(func() error {
		err := readAll(ctx, cdb, q)
		settle() // its store, sent after the rows
		return err
	})
	if err != nil {
		return err
	}
	hit, err := count(func() error { return readAll(ctx, cdb, q) })
	if err != nil {
		return err
	}
	// A write after the first: the first to a table in a process also reads
	// the table's schemes sets (the README's round-trips table says so).
	update := func() error {
		_, err := cdb.ExecContext(ctx, "UPDATE cacheops_bench.items SET price = price + 1 WHERE id = $1", q.args...)
		return err
	}
	if err := update(); err != nil {
		return err
	}
	if err := readAll(ctx, cdb, q); err != nil { // something to invalidate
		return err
	}
	settle()
	write, err := count(update)
	if err != nil {
		return err
	}
	fmt.Printf("\n| on the cluster | Redis traffic |\n|---|---|\n| hit (%s) | %s |\n| miss | %s |\n| UPDATE by primary key | %s |\n",
		q.name, hit, miss, write)
	s := cache.Stats()
	fmt.Printf("\n(cluster: %d hits, %d misses, %d Redis errors)\n", s.Hits, s.Misses, s.RedisErrors)
	return nil
}

// roundTrips counts commands and pipelines sent to each node.
type roundTrips struct {
	mu    sync.Mutex
	n     atomic.Int64
	nodes map[string]bool
}

func (r *roundTrips) reset() {
	r.mu.Lock()
	r.n.Store(0)
	r.nodes = map[string]bool{}
	r.mu.Unlock()
}

func (r *roundTrips) get() (int64, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n.Load(), len(r.nodes)
}

func (r *roundTrips) note(addr string) {
	r.n.Add(1)
	r.mu.Lock()
	if r.nodes != nil {
		r.nodes[addr] = true
	}
	r.mu.Unlock()
}

// nodeHook counts one node's round trips.
type nodeHook struct {
	r    *roundTrips
	addr string
}

func (h nodeHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h nodeHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.r.note(h.addr)
		return next(ctx, cmd)
	}
}

func (h nodeHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.r.note(h.addr)
		return next(ctx, cmds)
	}
}

// allKeys lists keys matching pattern on every master (or the one server).
func allKeys(ctx context.Context, rdb redis.UniversalClient, pattern string) ([]string, error) {
	cc, ok := rdb.(*redis.ClusterClient)
	if !ok {
		return rdb.Keys(ctx, pattern).Result()
	}
	var mu sync.Mutex
	var out []string
	err := cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error {
		keys, err := c.Keys(ctx, pattern).Result()
		mu.Lock()
		out = append(out, keys...)
		mu.Unlock()
		return err
	})
	return out, err
}

// dropKeys deletes the keys matching pattern, one slot at a time.
func dropKeys(ctx context.Context, rdb redis.UniversalClient, pattern string) error {
	keys, err := allKeys(ctx, rdb, pattern)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := rdb.Del(ctx, k).Err(); err != nil {
			return err
		}
	}
	return nil
}
