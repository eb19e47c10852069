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

// The first read of a database waits for one heartbeat poll before it
// decides, and the poller then follows the heartbeat. The behaviour with a
// real watcher is tested in the root package; this one sets heartbeats by
// hand.
func TestWatchBehindFollowsTheHeartbeat(t *testing.T) {
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
	now, err := c.Store.Clock(ctx, d.heartbeatKey())
	if err != nil {
		t.Fatal(err)
	}
	second := int64(time.Second / time.Microsecond)
	mr.Set(d.heartbeatKey(), strconv.FormatInt(now-second, 10))
	if !c.watchBehind(ctx, d) {
		t.Fatal("the first read decided before its poll answered: a hit despite a watcher a second behind")
	}
	mr.Set(d.heartbeatKey(), strconv.FormatInt(now+second, 10))
	waitFor(false) // caught up
	mr.Del(d.heartbeatKey())
	waitFor(false) // uninstalled: nothing to wait for
	mr.Set(d.heartbeatKey(), strconv.FormatInt(now-second, 10))
	waitFor(true) // a new watcher, behind
	if c.Stats().WatchLag < time.Second {
		t.Fatalf("WatchLag %v", c.Stats().WatchLag)
	}
}
