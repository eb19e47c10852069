package cacheops_test

import (
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops"
)

// WaitReplicas: a write returns only once the replica has its invalidation
// (so a failover cannot bring a deleted stamp back); with the replica gone
// the invalidation is kept, this process serves no hits, and caching
// resumes once the replica acknowledges it.
func TestWaitReplicas(t *testing.T) {
	singleNodeOnly(t)
	t.Parallel()
	master := startRedis(t)
	replica := startRedis(t, "--replicaof", "127.0.0.1", strconv.Itoa(master.port), "--enable-debug-command", "yes")
	ctx := context.Background()
	mc := master.client()
	defer mc.Close()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if info := mc.Info(ctx, "replication").Val(); strings.Contains(info, "state=online") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the replica did not come online")
		}
		time.Sleep(50 * time.Millisecond)
	}
	e := newFixture(t, func(o *cacheops.Options) {
		rdb, err := cacheops.ClientFromURLForTesting(master.url())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rdb.Close() })
		o.Redis, o.WaitReplicas, o.RedisTimeout = rdb, 1, 2*time.Second
	})
	e.cached(post1, 1)

	// The replica stalls for 600 ms: the write waits for it.
	stall(t, replica, "0.6")
	start := time.Now()
	e.exec("UPDATE post SET title = $1 WHERE id = 1", "replicated")
	if took := time.Since(start); took < 400*time.Millisecond {
		t.Fatalf("the write returned after %v, before the stalled replica acknowledged", took)
	}
	if s := e.cache.Stats(); s.Unreplicated != 0 {
		t.Fatalf("stats %+v", s)
	}
	e.fresh(post1, 1)
	e.cached(post1, 1)

	// A connected replica that does not acknowledge in time (stalled past
	// RedisTimeout): kept, no hits; once it answers: delivered, hits again.
	stall(t, replica, "3")
	e.exec("UPDATE post SET title = $1 WHERE id = 1", "unreplicated")
	if s := e.cache.Stats(); s.Unreplicated == 0 {
		t.Fatalf("an unacknowledged invalidation was taken as delivered: %+v", s)
	}
	hits := e.cache.Stats().Hits
	for i := 0; i < 3; i++ {
		e.fresh(post1, 1)
	}
	if e.cache.Stats().Hits != hits {
		t.Fatal("hits served while an invalidation waits for its replica")
	}
	deadline := time.Now().Add(15 * time.Second)
	for e.cache.Stats().Hits == hits && time.Now().Before(deadline) {
		e.fresh(post1, 1)
		time.Sleep(100 * time.Millisecond)
	}
	if e.cache.Stats().Hits == hits {
		t.Fatalf("caching did not resume once the replica answered: %+v", e.cache.Stats())
	}

	// No replica at all: none can be promoted, so there is nothing to wait
	// for (a master a failover left alone).
	replica.stop()
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(mc.Info(ctx, "replication").Val(), "connected_slaves:0"); {
		if time.Now().After(deadline) {
			t.Fatal("the master still counts its replica")
		}
		time.Sleep(50 * time.Millisecond)
	}
	unreplicated := e.cache.Stats().Unreplicated
	e.exec("UPDATE post SET title = $1 WHERE id = 1", "alone")
	e.fresh(post1, 1)
	e.cached(post1, 1)
	if s := e.cache.Stats(); s.Unreplicated != unreplicated {
		t.Fatalf("a master with no replica left waited for one: %+v", s)
	}
}

// On a cluster the same wait runs per master, on the connection that
// carried the invalidation: a write waits for a stalled replica of any
// master it invalidated stamps on.
func TestWaitReplicasOnCluster(t *testing.T) {
	if os.Getenv("CACHEOPS_MONITOR_CHILD") != "" {
		return
	}
	t.Parallel()
	c := startClusterWithReplicas(t)
	e := newFixture(t, func(o *cacheops.Options) {
		rdb := testRedisClient(c.url(), false)
		t.Cleanup(func() { rdb.Close() })
		o.Redis, o.WaitReplicas, o.RedisTimeout = rdb, 1, 2*time.Second
	})
	for i := range c.replicas {
		e.cached(post1, 1)
		stall(t, c.replicas[i], "0.6")
		start := time.Now()
		// Every bucket's global copy lives somewhere: a DDL deletes them
		// all, on every master.
		e.exec("CREATE TABLE IF NOT EXISTS waited (id int)")
		took := time.Since(start)
		if took < 400*time.Millisecond {
			t.Fatalf("replica %d stalled: the write returned after %v", i, took)
		}
		e.fresh(post1, 1)
	}
	if s := e.cache.Stats(); s.Unreplicated != 0 || s.Hits == 0 {
		t.Fatalf("stats %+v", s)
	}
}

// stall makes srv sleep for seconds (DEBUG SLEEP) and returns once it does:
// a PING from another connection goes unanswered.
func stall(t *testing.T, srv *redisServer, seconds string) {
	t.Helper()
	sleeper := srv.client()
	probe := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(srv.port), ContextTimeoutEnabled: true, MaxRetries: -1})
	go func() {
		defer sleeper.Close()
		sleeper.Do(context.Background(), "DEBUG", "SLEEP", seconds)
	}()
	defer probe.Close()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		err := probe.Ping(ctx).Err()
		cancel()
		if err != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the server did not stall")
}
