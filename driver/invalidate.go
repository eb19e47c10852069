package driver

import (
	"context"
	"time"

	"github.com/cacheops/cacheops/keys"
)

// maxUndelivered bounds the stamps kept while Redis is down; past it they
// collapse into the databases' global stamps.
const maxUndelivered = 10000

// invalidate applies a finished write's changes: it turns them into stamps
// (reading the schemes of the relations known by rows) and deletes them,
// together with any invalidation still undelivered. One that cannot be
// delivered is kept; until it is, this process serves no hits at all
// (correct, if coarse) and retries on later reads and writes.
func (c *Config) invalidate(ctx context.Context, db *database, changes []keys.Change, global bool) {
	if c.Store == nil || (len(changes) == 0 && !global) || c.noInvalidation.Load() {
		return
	}
	// Always try, whatever the circuit breaker says: it spares the read path,
	// but Redis may be back for other processes, whose entries this write
	// makes stale. The write has happened: deliver even if the caller gives
	// up now.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.RedisTimeout)
	defer cancel()
	stamps := db.invalidationStamps(ctx, c.Store, changes, global)
	if len(stamps) == 0 {
		return
	}
	c.stats.Invalidations.Add(int64(len(stamps)))
	all := append(stamps, c.takeUndelivered()...)
	err := c.Store.Invalidate(ctx, all)
	c.breaker.record(err)
	if err != nil {
		c.stats.RedisErrors.Add(1)
		c.keepUndelivered(db, all)
	}
}

func (c *Config) keepUndelivered(db *database, stamps []string) {
	c.undeliveredMu.Lock()
	defer c.undeliveredMu.Unlock()
	if c.undelivered == nil {
		c.undelivered = map[string]struct{}{}
	}
	for _, s := range stamps {
		c.undelivered[s] = struct{}{}
	}
	if len(c.undelivered) > maxUndelivered {
		c.undelivered = map[string]struct{}{db.globalStamp: {}}
		c.dbs.Range(func(_, v any) bool {
			c.undelivered[v.(*database).globalStamp] = struct{}{}
			return true
		})
	}
	c.hasUndelivered.Store(true)
}

// takeUndelivered empties the undelivered set for a delivery attempt.
func (c *Config) takeUndelivered() []string {
	if !c.hasUndelivered.Load() {
		return nil
	}
	c.undeliveredMu.Lock()
	defer c.undeliveredMu.Unlock()
	out := make([]string, 0, len(c.undelivered))
	for s := range c.undelivered {
		out = append(out, s)
	}
	c.undelivered = nil
	c.hasUndelivered.Store(false)
	return out
}

// cacheBlocked reports whether undelivered invalidations forbid hits, trying
// to deliver them at most every 100 ms.
func (c *Config) cacheBlocked(ctx context.Context, db *database) bool {
	if !c.hasUndelivered.Load() {
		return false
	}
	now := time.Now().UnixNano()
	last := c.lastRedelivery.Load()
	if now-last < int64(100*time.Millisecond) || !c.lastRedelivery.CompareAndSwap(last, now) || !c.breaker.allow() {
		return true
	}
	stamps := c.takeUndelivered()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.RedisTimeout)
	defer cancel()
	err := c.Store.Invalidate(ctx, stamps)
	c.breaker.record(err)
	if err != nil {
		c.stats.RedisErrors.Add(1)
		c.keepUndelivered(db, stamps)
		return true
	}
	return false
}
