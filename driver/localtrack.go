package driver

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops/internal/tracking"
	"github.com/cacheops/cacheops/lua"
)

// localTracker keeps the local layer honest: a tracking connection to every
// master of the cache's Redis (one, for a single node or a Sentinel's
// master), told of every change under the cache's prefix, and a round of
// PINGs on them every quarter of MaxStaleness. A round every connection
// answered confirms that every change made before its PINGs were sent has
// dropped its local entries (Redis writes a change's message before it
// answers the change, and answers a PING after what it wrote before). A lost
// connection, or a master it has none to, closes the local layer and
// empties it until a round confirms again.
type localTracker struct {
	cfg   *Config
	lc    *localCache
	conns map[string]*tracking.Conn // by node address; the run goroutine's
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
	// kick asks for a step now (a connection was lost: make a new one
	// rather than wait for the next heartbeat).
	kick chan struct{}
}

// localRetry spaces the steps a lost connection asks for, so that a Redis
// that keeps refusing is not dialled in a loop.
const localRetry = 50 * time.Millisecond

func startLocalTracker(c *Config, lc *localCache) *localTracker {
	t := &localTracker{cfg: c, lc: lc, conns: map[string]*tracking.Conn{}, stop: make(chan struct{}), done: make(chan struct{}), kick: make(chan struct{}, 1)}
	go t.run()
	return t
}

func (t *localTracker) close() {
	t.once.Do(func() { close(t.stop) })
	<-t.done
}

func (t *localTracker) run() {
	defer close(t.done)
	defer func() {
		for _, c := range t.conns {
			c.Close()
		}
	}()
	tick := time.NewTicker(max(t.lc.maxStale/4, time.Millisecond))
	defer tick.Stop()
	for {
		if !t.step() {
			t.retry()
		}
		select {
		case <-t.stop:
			return
		case <-tick.C:
		case <-t.kick:
			select {
			case <-t.stop:
				return
			case <-time.After(localRetry):
			}
		}
	}
}

// retry asks for a step soon.
func (t *localTracker) retry() {
	select {
	case t.kick <- struct{}{}:
	default:
	}
}

// step makes the connections the masters need, then PINGs them all; false
// when it could not confirm them.
func (t *localTracker) step() bool {
	ctx, cancel := context.WithTimeout(context.Background(), t.cfg.RedisTimeout)
	defer cancel()
	nodes, err := t.nodes(ctx)
	if err != nil {
		t.failed(ctx, err)
		return false
	}
	for addr, c := range t.conns {
		if _, ok := nodes[addr]; !ok || c.Err() != nil {
			c.Close() // its watcher closes the layer
			delete(t.conns, addr)
		}
	}
	for addr, o := range nodes {
		if t.conns[addr] != nil {
			continue
		}
		// Changes on this node were not followed until now.
		t.lc.lost()
		c, err := t.dial(ctx, o)
		if err != nil {
			t.failed(ctx, fmt.Errorf("tracking %s: %w", addr, err))
			return false
		}
		t.conns[addr] = c
		go func() {
			<-c.Done()
			t.lc.lost()
			t.retry()
		}()
	}
	gen, sent := t.lc.round(), t.lc.now()
	var wg sync.WaitGroup
	errs := make(chan error, len(t.conns))
	for _, c := range t.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := c.Ping(ctx); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.failed(ctx, err)
		return false
	}
	t.lc.confirm(gen, sent)
	return true
}

func (t *localTracker) failed(ctx context.Context, err error) {
	t.cfg.logs.Log(ctx, t.cfg.Logger, slog.LevelWarn, "cacheops: the local layer cannot follow Redis; hits go to Redis", slog.Any("err", err))
}

// nodes returns the options of the masters to follow, by address.
func (t *localTracker) nodes(ctx context.Context) (map[string]*redis.Options, error) {
	switch rdb := t.cfg.Store.Client().(type) {
	case *redis.ClusterClient:
		var mu sync.Mutex
		out := map[string]*redis.Options{}
		err := rdb.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			mu.Lock()
			defer mu.Unlock()
			o := n.Options()
			out[o.Addr] = o
			return nil
		})
		return out, err
	case *redis.Client:
		o := rdb.Options()
		return map[string]*redis.Options{o.Addr: o}, nil
	default:
		return nil, fmt.Errorf("cacheops: a local layer cannot follow a %T", rdb)
	}
}

// dial opens a tracking connection as the client's own would be opened.
func (t *localTracker) dial(ctx context.Context, o *redis.Options) (*tracking.Conn, error) {
	user, pass, err := lua.Credentials(ctx, o)
	if err != nil {
		return nil, err
	}
	return tracking.Dial(ctx, tracking.Options{
		Dial: lua.Dialer(o), Username: user, Password: pass,
		Prefixes: []string{t.cfg.Prefix},
		Invalidated: func(keys []string, all bool) {
			if all {
				t.lc.flush()
			} else {
				t.lc.invalidated(keys)
			}
		},
	})
}
