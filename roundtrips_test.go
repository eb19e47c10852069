package cacheops_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops"
)

// countingEnv is a fixture whose Redis client counts its round trips; its
// lookups go through the client too, so that it counts them
// (TestAHitOverOwnConnectionsIsOneMGET counts the others).
func countingEnv(t *testing.T) (*env, *atomic.Int64) {
	var trips atomic.Int64
	e := newFixture(t, func(o *cacheops.Options) {
		rdb := redis.NewClient(o.Redis.(*redis.Client).Options())
		rdb.AddHook(tripHook{&trips})
		t.Cleanup(func() { rdb.Close() })
		o.Redis, o.LookupsThroughClient = rdb, true
	})
	return e, &trips
}

// By default a hit's lookup goes over a connection of cacheops' own: on a
// Redis of its own the hit is one MGET, and nothing else, and the
// client's hooks see nothing of it; with LookupsThroughClient they see it.
func TestAHitOverOwnConnectionsIsOneMGET(t *testing.T) {
	t.Parallel()
	for _, through := range []bool{false, true} {
		t.Run(fmt.Sprintf("through the client %v", through), func(t *testing.T) {
			srv := startRedis(t)
			var trips atomic.Int64
			e := newFixture(t, func(o *cacheops.Options) {
				ro, _ := redis.ParseURL(srv.url())
				rdb := redis.NewClient(ro)
				rdb.AddHook(tripHook{&trips})
				t.Cleanup(func() { rdb.Close() })
				o.Redis, o.LookupsThroughClient = rdb, through
			})
			admin := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(srv.port)})
			defer admin.Close()
			const q = "SELECT title FROM post WHERE id = $1"
			for range 5 {
				e.cached(q, 1) // the statement learns that it mostly hits
			}
			hits, before, tripsBefore := e.cache.Stats().Hits, commandCalls(t, admin), trips.Load()
			e.read(q, 1)
			after := commandCalls(t, admin)
			if n := e.cache.Stats().Hits - hits; n != 1 {
				t.Fatalf("%d hits, want 1", n)
			}
			for cmd, n := range after {
				if d := n - before[cmd]; cmd != "info" && d != 0 && (cmd != "mget" || d != 1) {
					t.Errorf("the hit sent %s %d times", cmd, d)
				}
			}
			if d := after["mget"] - before["mget"]; d != 1 {
				t.Errorf("the hit sent %d MGETs, want 1", d)
			}
			want := int64(0)
			if through {
				want = 1
			}
			if n := trips.Load() - tripsBefore; n != want {
				t.Errorf("the client's hooks saw %d round trips, want %d", n, want)
			}
		})
	}
}

// commandCalls are the calls of each command a Redis has served
// (INFO commandstats).
func commandCalls(t *testing.T, rdb *redis.Client) map[string]int64 {
	info, err := rdb.Info(context.Background(), "commandstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok {
			continue
		}
		n, _ := strconv.ParseInt(strings.SplitN(rest, ",", 2)[0], 10, 64)
		out[strings.TrimPrefix(name, "cmdstat_")] = n
	}
	return out
}

// A statement whose reads mostly miss looks up and registers in one round
// trip before its query; with the store, sent after the rows, a miss is two.
// One whose reads mostly hit looks up by MGET alone: a hit is one.
func TestMissIsOneRoundTripBeforeTheQuery(t *testing.T) {
	singleNodeOnly(t)
	t.Parallel()
	e, trips := countingEnv(t)
	const q = "SELECT title FROM post WHERE id = $1"
	read := func(id int) int64 {
		t.Helper()
		before := trips.Load()
		e.read(q, id)
		e.cache.Stats() // the store has landed
		return trips.Load() - before
	}
	for id := 100; id < 105; id++ {
		read(id) // the statement learns that it mostly misses
	}
	if n := read(200); n != 2 {
		t.Fatalf("a first-time miss took %d round trips, want 2 (lookup with registration, store)", n)
	}
	for range 5 {
		read(1) // and then that it mostly hits
	}
	if n := read(1); n != 1 {
		t.Fatalf("a hit took %d round trips, want 1", n)
	}
}

// Once a writer holds a current copy of a table's schemes, its invalidation
// is one round trip to Redis after the statement; a copy gone out of date
// costs one more (the set is read again), and then it is one again.
func TestWriteIsOneRoundTrip(t *testing.T) {
	singleNodeOnly(t)
	t.Parallel()
	e, trips := countingEnv(t)
	write := func() int64 {
		t.Helper()
		before := trips.Load()
		e.exec("UPDATE post SET visible = NOT visible WHERE id = 1")
		return trips.Load() - before
	}
	e.cached("SELECT title FROM post WHERE id = $1", 2)
	write() // learns post's schemes
	if n := write(); n != 1 {
		t.Fatalf("a write with a current copy of the schemes took %d round trips, want 1", n)
	}
	e.otherProcess().cached(t, "SELECT id FROM post WHERE category_id = $1", 3)
	if n := write(); n != 2 {
		t.Fatalf("a write with an old copy of the schemes took %d round trips, want 2", n)
	}
	if n := write(); n != 1 {
		t.Fatalf("a write after the copy was read again took %d round trips, want 1", n)
	}
}

// tripHook counts a client's round trips: a command or a pipeline each.
type tripHook struct{ n *atomic.Int64 }

func (h tripHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h tripHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h tripHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}
