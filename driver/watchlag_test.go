package driver

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops/lua"
)

// Hits wait for the watcher's heartbeat: none while no poll has answered
// (the database may have a watcher that is behind), then as the heartbeat
// says. The behaviour with a real watcher is tested in the root package;
// this one needs a Redis that fails on cue.
func TestWatchBehindUntilAPollAnswers(t *testing.T) {
	mr := miniredis.RunT(t)
	rdb := redis.NewClient(&redis.Options{Addr: mr.Addr(), MaxRetries: -1})
	defer rdb.Close()
	c := (&Config{Store: lua.NewStore(rdb), Prefix: "p:", RedisTimeout: 100 * time.Millisecond, WatchMaxLag: 200 * time.Millisecond}).Init()
	defer c.Close()
	d := c.database("db")
	ctx := context.Background()
	waitFor := func(behind bool) {
		t.Helper()
		for deadline := time.Now().Add(3 * time.Second); c.watchBehind(ctx, d) != behind; {
			if time.Now().After(deadline) {
				t.Fatalf("watchBehind stayed %v", !behind)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	mr.SetError("LOADING down")
	if !c.watchBehind(ctx, d) {
		t.Fatal("a hit allowed before any poll answered")
	}
	mr.SetError("")
	waitFor(false) // no heartbeat: nothing to wait for
	now, err := c.Store.Clock(ctx, d.heartbeatKey())
	if err != nil {
		t.Fatal(err)
	}
	mr.Set(d.heartbeatKey(), strconv.FormatInt(now, 10))
	waitFor(false) // a fresh heartbeat
	mr.Set(d.heartbeatKey(), strconv.FormatInt(now-int64(time.Second/time.Microsecond), 10))
	waitFor(true) // older than the bound
	if c.Stats().WatchLag < time.Second {
		t.Fatalf("WatchLag %v", c.Stats().WatchLag)
	}
}
