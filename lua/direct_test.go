package lua

import (
	"context"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// countHook counts a client's commands and pipelines.
type countHook struct{ n *atomic.Int64 }

func (h countHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h countHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error { h.n.Add(1); return next(ctx, cmd) }
}

func (h countHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error { h.n.Add(1); return next(ctx, cmds) }
}

// On a cluster a lookup goes to its slot's master over a connection of
// cacheops' own; one that meets MOVED (a slot that moved, here a pool made
// to point at another master) goes through the cluster client, which
// follows it, and still finds the entry.
func TestClusterLookupsOverOwnConnections(t *testing.T) {
	url := os.Getenv("CACHEOPS_TEST_CLUSTER")
	if url == "" {
		t.Skip("CACHEOPS_TEST_CLUSTER names no cluster")
	}
	o, err := redis.ParseClusterURL(url)
	if err != nil {
		t.Fatal(err)
	}
	cc := redis.NewClusterClient(o)
	defer cc.Close()
	var trips atomic.Int64
	cc.AddHook(countHook{&trips})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s := NewStore(cc)
	defer s.Close()
	tag := "{luatest:" + t.Name() + ":" + NewToken() + "}"
	entry, stamp, tok := tag+"e", tag+"s", NewToken()
	if err := cc.MSet(ctx, entry, tok+"payload", stamp, tok).Err(); err != nil {
		t.Fatal(err)
	}
	defer cc.Del(context.Background(), entry, stamp)
	lookup := func() int64 {
		t.Helper()
		before := trips.Load()
		payload, _, err := s.Lookup(ctx, entry, []string{stamp})
		if err != nil || string(payload) != "payload" {
			t.Fatalf("lookup: %q, %v", payload, err)
		}
		return trips.Load() - before
	}
	if n := lookup(); n != 0 {
		t.Fatalf("a lookup went through the client (%d commands)", n)
	}
	// Point the slot's master's pool at another master.
	master, err := cc.MasterForKey(ctx, entry)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var other *redis.Client
	_ = cc.ForEachMaster(ctx, func(_ context.Context, n *redis.Client) error {
		mu.Lock()
		defer mu.Unlock()
		if n.Options().Addr != master.Options().Addr {
			other = n
		}
		return nil
	})
	st := s.client.cur.Load()
	st.masters.Store(master.Options().Addr, directPool(other))
	if n := lookup(); n != 1 {
		t.Fatalf("a lookup that met MOVED made %d commands through the client, want 1", n)
	}
}

// Lookups go over connections of cacheops' own only for a plain client
// whose connections are opened as ours would be: not for a Sentinel client
// (its master changes under it: an old master's connection would be read
// after a failover), nor one with a connection hook, a limiter or
// streamed credentials, nor a cluster client (each master has its pool).
func TestDirectPoolOnlyForPlainClients(t *testing.T) {
	onConnect := func(context.Context, *redis.Conn) error { return nil }
	for _, c := range []struct {
		name   string
		rdb    redis.UniversalClient
		direct bool
	}{
		{"plain", redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}), true},
		{"sentinel", redis.NewFailoverClient(&redis.FailoverOptions{MasterName: "m", SentinelAddrs: []string{"127.0.0.1:1"}}), false},
		{"OnConnect", redis.NewClient(&redis.Options{Addr: "127.0.0.1:1", OnConnect: onConnect}), false},
		{"cluster", redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}}), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			defer c.rdb.Close()
			if p := directPool(c.rdb); (p != nil) != c.direct {
				t.Fatalf("a pool: %v, want %v", p != nil, c.direct)
			}
		})
	}
}
