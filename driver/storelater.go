package driver

import (
	"context"
	"sync"
	"time"
)

// A miss hands its rows over and stores the entry in the background: the
// caller never waits for the store's round trip. A lookup of an entry whose
// store is still in flight waits for it, so a read that follows a miss in
// the same process finds the entry as it would have had the store been
// synchronous; the wait is bounded by the store's own Redis timeout.

// storing is the entries being stored by this process, by key (entry keys
// are unique across caches: they carry the prefix and the database).
var storing sync.Map // string → *inflight

type inflight struct {
	cfg  *Config
	done chan struct{}
}

// storeLater encodes a result now (the caller may change what it was given
// afterwards) and stores it in the background behind the stale-fill guard;
// then, done (releasing a fill lock: other processes wait for the entry).
func (c *Config) storeLater(ctx context.Context, ev Event, stamps []string, tokens string, ttl time.Duration, encode func() ([]byte, error), done func()) {
	key := ev.Key
	payload, err := encode()
	if err != nil {
		c.stats.Uncached.Add(1)
		done()
		return
	}
	f := &inflight{cfg: c, done: make(chan struct{})}
	storing.Store(key, f)
	ctx = context.WithoutCancel(ctx)
	go func() {
		defer close(f.done)
		defer storing.CompareAndDelete(key, f)
		c.put(ctx, ev, stamps, tokens, payload, ttl)
		done()
	}()
}

// awaitStore waits for a store of key in flight, if any.
func (c *Config) awaitStore(ctx context.Context, key string) {
	if v, ok := storing.Load(key); ok {
		select {
		case <-v.(*inflight).done:
		case <-ctx.Done():
		}
	}
}

// Settle waits for the stores in flight of this configuration (of every
// one, when c is nil): Redis and the counters then show them.
func (c *Config) Settle() {
	storing.Range(func(_, v any) bool {
		if f := v.(*inflight); c == nil || f.cfg == c {
			<-f.done
		}
		return true
	})
}
