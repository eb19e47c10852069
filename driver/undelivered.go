package driver

import (
	"context"
	"time"
)

// Invalidations that could not be delivered are kept in one set per Config.
// While it is not empty this process serves no hits at all (correct, if
// coarse); it is sent again with every later invalidation and, from the
// read path, at most every 100 ms in the background. A stamp leaves the set
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
		c.hasUndelivered.Store(len(c.undelivered) > 0)
		c.undeliveredMu.Unlock()
	}
	c.keepUndelivered(db, undelivered)
}

// cacheBlocked reports whether undelivered invalidations forbid hits. At
// most every 100 ms, and one at a time, it sends them again in the
// background: no read waits for a Redis that is failing.
func (c *Config) cacheBlocked(ctx context.Context, db *database) bool {
	if !c.hasUndelivered.Load() {
		return false
	}
	now := time.Now().UnixNano()
	last := c.lastRedelivery.Load()
	if now-last < int64(100*time.Millisecond) || !c.lastRedelivery.CompareAndSwap(last, now) ||
		!c.breaker.allow() || !c.redelivering.CompareAndSwap(false, true) {
		return true
	}
	go func() {
		defer c.redelivering.Store(false)
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.RedisTimeout)
		defer cancel()
		p := c.pendingUndelivered()
		undelivered, err := c.Store.Invalidate(ctx, p.stamps)
		c.recordDelivery(err)
		c.settleUndelivered(db, p, undelivered)
	}()
	return true
}
