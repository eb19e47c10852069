package driver

import (
	"context"
	"errors"
	"time"
)

// errNotShared tells waiters to run their own query: the leader's result is
// too large to record, holds values that cannot be cached, or ended in an
// error.
var errNotShared = errors.New("cacheops: result not shared")

// flight is a miss's result as the leader read it whole.
type flight struct {
	// rec is the recording, of the form's recording type.
	rec any
}

// missRead runs a cacheable query that missed. Readers in this process that
// missed the same entry having seen the same stamp tokens share one run:
// equal tokens mean no invalidation of their stamps landed after the
// leader read them, so no write that finished before a waiter started can be
// missing from the leader's snapshot. The leader's caller gets the rows as
// PostgreSQL sends them, recorded on the way (up to MaxRows; rows closed
// early are read to the end into the recording); when they are over, the
// recording is stored behind the stale-fill guard (in the background) and
// the waiters replay it. A larger result, or one that ended in an error, is
// neither stored nor shared: the waiters run their own query. Entries of
// the two forms have keys of their own, so a flight only ever holds its own
// form's recording.
func missRead[R, T any](c *Conn, ctx context.Context, p *plan, text, key string, stamps []string, tokens string, ctl readControl, f resultForm[R, T]) (R, error) {
	var zero R
	fkey := key + "\x00" + tokens
	var call *flightCall
	led := true
	if ctl.refresh {
		// A refresh runs its own query, begun after it was asked for, and
		// shares it with no one: its result must be at least that fresh.
		call = &flightCall{done: make(chan struct{})}
		fkey = ""
	} else {
		call, led = c.cfg.flights.start(fkey)
	}
	if led {
		finished := false
		finish := func(v *flight, err error) {
			finished = true
			c.cfg.flights.finish(fkey, call, v, err)
		}
		unlock := func() {}
		defer func() {
			if !finished { // a panic: waiters run their own query
				finish(nil, errNotShared)
				unlock()
			}
		}()
		if !ctl.refresh && c.wantsFillLock(ctx, p) {
			// Across processes: one fills, the others wait for its entry.
			var payload []byte
			payload, unlock = c.awaitFill(ctx, key, stamps)
			if payload != nil {
				if rec, err := f.decode(payload); err == nil && f.fits(rec) {
					c.cfg.stats.Shared.Add(1)
					finish(&flight{rec: rec}, nil)
					unlock()
					return f.replay(rec), nil
				}
			}
		}
		rows, err := f.run(ctx)
		if err != nil {
			finish(nil, err)
			unlock()
			return zero, err
		}
		finished = true // from here the rows finish the call
		return f.tee(c, rows, call, func(rec T, ok bool, ended error) {
			switch {
			case !ok || ended != nil:
				c.cfg.stats.Uncached.Add(1)
				c.cfg.flights.finish(fkey, call, nil, errNotShared)
				unlock()
			default:
				// Encoded before the waiters get it, sent in the background;
				// the call stays in the group until the entry has landed.
				ev := Event{SQL: text, Tables: p.Deps, Key: key}
				c.cfg.storeLater(ctx, ev, stamps, tokens, ctl.ttl, func() ([]byte, error) { return f.encode(rec) }, func() {
					unlock()
					c.cfg.flights.forget(fkey, call)
				})
				call.settle(&flight{rec: rec}, nil)
			}
		}), nil
	}
	v, err, ok, idle := call.wait(ctx)
	if idle {
		c.cfg.flights.forget(fkey, call)
	}
	if !ok {
		// The caller's deadline (the database reports it as it would
		// without cacheops), or the leader's caller holds its rows unread.
		c.cfg.stats.Passthrough.Add(1)
		return f.run(ctx)
	}
	var rec T
	same := false
	if err == nil {
		rec, same = v.rec.(T)
		same = same && f.fits(rec)
	}
	if !same {
		c.cfg.stats.Passthrough.Add(1)
		return f.run(ctx) // the leader failed: find out for ourselves
	}
	c.cfg.stats.Shared.Add(1)
	return f.replay(rec), nil
}

// put stores an encoded result if its stamps still hold the tokens read
// before the query ran.
func (c *Config) put(ctx context.Context, ev Event, stamps []string, tokens string, payload []byte, ttl time.Duration) {
	sctx, cancel := c.redisContext(ctx)
	defer cancel()
	start := c.since()
	stored, err := c.Store.Put(sctx, ev.Key, stamps, tokens, payload, ttl)
	ev.Bytes = len(payload)
	switch {
	case err != nil:
		c.redisFailed(ctx, err, start)
	case stored:
		c.stats.Stores.Add(1)
		call(ctx, c.Hooks.Store, ev, start)
	default:
		c.stats.GuardDrops.Add(1)
		call(ctx, c.Hooks.GuardDrop, ev, start)
	}
}
