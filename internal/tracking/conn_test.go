package tracking

import (
	"context"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// server is the test Redis and a client of it.
func server(t *testing.T) (*redis.Client, func(ctx context.Context) (net.Conn, error)) {
	url := os.Getenv("CACHEOPS_TEST_REDIS")
	if url == "" {
		url = "redis://127.0.0.1:6379/9"
	}
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(o)
	t.Cleanup(func() { rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Skipf("no Redis: %v", err)
	}
	dial := func(ctx context.Context) (net.Conn, error) { return o.Dialer(ctx, o.Network, o.Addr) }
	if o.Dialer == nil {
		var d net.Dialer
		dial = func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", o.Addr) }
	}
	return rdb, dial
}

// heard collects what a connection is told.
type heard struct {
	mu   sync.Mutex
	keys []string
	all  int
}

func (h *heard) invalidated(keys []string, all bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.keys = append(h.keys, keys...)
	if all {
		h.all++
	}
}

func (h *heard) has(k string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Contains(h.keys, k)
}

// dialTest dials the test Redis tracking prefix, telling h.
func dialTest(t *testing.T, rdb *redis.Client, dial func(ctx context.Context) (net.Conn, error), prefix string, h *heard) *Conn {
	t.Helper()
	c, err := Dial(context.Background(), Options{Dial: dial, Password: rdb.Options().Password, Username: rdb.Options().Username,
		Prefixes: []string{prefix}, Invalidated: h.invalidated})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func TestAChangeIsToldBeforeTheNextPong(t *testing.T) {
	rdb, dial := server(t)
	ctx := context.Background()
	prefix := fmt.Sprintf("test:tracking:%d:", time.Now().UnixNano())
	t.Cleanup(func() { rdb.Del(ctx, prefix+"a", prefix+"b", "x"+prefix) })
	var h heard
	c := dialTest(t, rdb, dial, prefix, &h)
	for i := range 200 {
		key := prefix + "a"
		if i%2 == 1 {
			key = prefix + "b"
		}
		if err := rdb.Set(ctx, key, i, 0).Err(); err != nil {
			t.Fatal(err)
		}
		rdb.Set(ctx, "x"+prefix, i, 0) // not under the prefix
		h.mu.Lock()
		h.keys = nil
		h.mu.Unlock()
		// The write above has been answered, so its message was written
		// before this PING's reply.
		if i > 0 {
			if err := rdb.Set(ctx, key, i, 0).Err(); err != nil {
				t.Fatal(err)
			}
		}
		if err := c.Ping(ctx); err != nil {
			t.Fatal(err)
		}
		if i > 0 && !h.has(key) {
			t.Fatalf("round %d: a change to %s answered before the PING was not told before its reply", i, key)
		}
		if h.has("x" + prefix) {
			t.Fatal("a key outside the prefix was told")
		}
	}
}

func TestALostConnectionSaysSo(t *testing.T) {
	rdb, dial := server(t)
	ctx := context.Background()
	var h heard
	c := dialTest(t, rdb, dial, "test:tracking:lost:", &h)
	id, err := c.Do(ctx, "CLIENT", "ID")
	if err != nil {
		t.Fatal(err)
	}
	if err := rdb.ClientKillByFilter(ctx, "ID", fmt.Sprint(id)).Err(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("a killed connection was not noticed")
	}
	if err := c.Ping(ctx); err == nil {
		t.Fatal("a PING on a lost connection succeeded")
	}
	if c.Err() == nil {
		t.Fatal("no reason for the loss")
	}
}

func TestACallThatTimesOutLeavesTheConnectionInStep(t *testing.T) {
	rdb, dial := server(t)
	ctx := context.Background()
	var h heard
	c := dialTest(t, rdb, dial, "test:tracking:slow:", &h)
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	// A blocking pop on a key nobody pushes to answers (nil) a second late.
	if _, err := c.Do(short, "BLPOP", "test:tracking:slow:never", "1"); err == nil {
		t.Fatal("a call answered after its deadline succeeded")
	}
	// The late nil goes to the abandoned call, not to this PING.
	long, cancel2 := context.WithTimeout(ctx, 5*time.Second)
	defer cancel2()
	if err := c.Ping(long); err != nil {
		t.Fatalf("the PING after a timed-out call: %v", err)
	}
	if c.Err() != nil {
		t.Fatalf("a slow reply lost the connection: %v", c.Err())
	}
}
