package driver

import (
	"context"
	"log/slog"
	"time"
)

// Invalidations that could not be delivered are kept in one set per Config.
// While it is not empty this process serves no hits at all (correct, if
// coarse); it is sent again with every later invalidation and by a
// background redeliverer (ensureRedeliverer). A stamp leaves the set
// only once a delivery that carried it succeeded: a read that starts while
// a redelivery is under way must still find the cache blocked.

// keepUndelivered adds stamps to the set, or marks them kept again: each
// entry holds the number of the keep that last put it there, so a delivery
// that started before a later keep does not take it out. Past
// maxUndelivered the set collapses into the global stamps of every
// database.
func (c *Config) keepUndelivered(db *database, stamps []string) {
	if len(stamps) == 0 {
		return
	}
	c.undeliveredMu.Lock()
	defer c.undeliveredMu.Unlock()
	if c.undelivered == nil {
		c.undelivered = map[string]uint64{}
	}
	c.keeps++
	for _, s := range stamps {
		c.undelivered[s] = c.keeps
	}
	c.logs.Log(context.Background(), c.Logger, slog.LevelWarn, "cacheops: invalidations kept until Redis takes them; no hits meanwhile",
		slog.Int("stamps", len(c.undelivered)))
	if len(c.undelivered) > maxUndelivered {
		c.undelivered = map[string]uint64{}
		c.dbs.Range(func(_, v any) bool {
			for _, s := range v.(*database).globalStamps {
				c.undelivered[s] = c.keeps
			}
			return true
		})
	}
	c.hasUndelivered.Store(true)
	c.ensureRedeliverer(db)
}

// pending is a copy of the set for a delivery attempt; the set stays.
type pending struct {
	stamps []string
	keeps  uint64 // the set's last keep when copied
}

func (c *Config) pendingUndelivered() pending {
	if !c.hasUndelivered.Load() {
		return pending{}
	}
	c.undeliveredMu.Lock()
	defer c.undeliveredMu.Unlock()
	out := pending{stamps: make([]string, 0, len(c.undelivered)), keeps: c.keeps}
	for s := range c.undelivered {
		out.stamps = append(out.stamps, s)
	}
	return out
}

// settleUndelivered records a delivery attempt that carried p (from the
// set): those delivered leave the set unless kept again since, and
// undelivered (from p or new) stay in it or join it.
func (c *Config) settleUndelivered(db *database, p pending, undelivered []string) {
	if len(p.stamps) > 0 {
		failed := make(map[string]bool, len(undelivered))
		for _, s := range undelivered {
			failed[s] = true
		}
		c.undeliveredMu.Lock()
		for _, s := range p.stamps {
			if k, ok := c.undelivered[s]; ok && k <= p.keeps && !failed[s] {
				delete(c.undelivered, s)
			}
		}
		left := len(c.undelivered) > 0
		delivered := c.hasUndelivered.Swap(left) && !left
		c.undeliveredMu.Unlock()
		if delivered {
			c.logs.Log(context.Background(), c.Logger, slog.LevelInfo, "cacheops: kept invalidations delivered; hits resume")
		}
	}
	c.keepUndelivered(db, undelivered)
}

// cacheBlocked reports whether undelivered invalidations forbid hits (the
// redeliverer is sending them: no read waits for a Redis that is failing),
// or the database's watcher is too far behind.
func (c *Config) cacheBlocked(ctx context.Context, db *database) bool {
	if !c.hasUndelivered.Load() {
		return c.watchBehind(ctx, db)
	}
	c.ensureRedeliverer(db)
	return true
}

// redeliveryEvery is how often the redeliverer tries, when the circuit
// breaker lets it.
const redeliveryEvery = 100 * time.Millisecond

// ensureRedeliverer runs one goroutine per Config that sends the kept
// invalidations again until none is left (or the cache is closed): every
// redeliveryEvery while the circuit breaker is closed, once per cool-down
// (its probe) while it is open. Nothing else has to happen for them to
// land: a process that only writes delivers them too.
func (c *Config) ensureRedeliverer(db *database) {
	if c.Store == nil || !c.redeliverer.CompareAndSwap(false, true) {
		return
	}
	go func() {
		for {
			for c.hasUndelivered.Load() && !c.closed.Load() {
				time.Sleep(redeliveryEvery)
				if !c.Store.Cluster() && !c.breaker.Allow() {
					continue // on a cluster, each node's breaker decides (lua.ErrNodeDown)
				}
				ctx, cancel := c.redisContext(context.Background())
				p := c.pendingUndelivered()
				undelivered, err := c.Store.Invalidate(ctx, p.stamps)
				c.recordDelivery(ctx, err)
				c.settleUndelivered(db, p, undelivered)
				cancel()
			}
			c.redeliverer.Store(false)
			// A keep between the last check and now found the flag set.
			if !c.hasUndelivered.Load() || c.closed.Load() || !c.redeliverer.CompareAndSwap(false, true) {
				return
			}
		}
	}()
}
