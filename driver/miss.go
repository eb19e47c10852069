package driver

import (
	"context"
	"errors"
)

// errNotShared tells waiters to run their own query: the leader's result is
// too large to buffer, or holds values that cannot be cached.
var errNotShared = errors.New("cacheops: result not shared")

// flight is a miss's result as the leader read it.
type flight struct {
	// rec is the recording, of the form's recording type.
	rec any
	// err ended the rows early: the leader's caller gets the rows read and
	// then this error, as the wrapped driver would have given them; nothing
	// is stored or shared.
	err error
}

// missRead runs a cacheable query that missed. Readers in this process that
// missed the same entry having seen the same stamp tokens share one run:
// equal tokens mean no invalidation of their stamps landed after the
// leader read them, so no write that finished before a waiter started can be
// missing from the leader's snapshot. The leader reads the whole result (up
// to MaxRows), stores it behind the stale-fill guard (in the background), and everyone gets a
// replay. A larger result streams on to the leader's caller and is neither
// stored nor shared. Entries of the two forms have keys of their own, so a
// flight only ever holds its own form's recording.
func missRead[R, T any](c *Conn, ctx context.Context, p *plan, key string, stamps []string, tokens string, f resultForm[R, T]) (R, error) {
	var own R
	streamed := false
	v, err, call, led := c.cfg.flights.lead(key+"\x00"+tokens, func() (*flight, error) {
		unlock := func() {}
		defer func() { unlock() }() // unless the store releases it once done
		if c.wantsFillLock(ctx, p) {
			// Across processes: one fills, the others wait for its entry.
			var payload []byte
			payload, unlock = c.awaitFill(ctx, key, stamps)
			if payload != nil {
				if rec, err := f.decode(payload); err == nil && f.fits(rec) {
					c.cfg.stats.Shared.Add(1)
					return &flight{rec: rec}, nil
				}
			}
		}
		rows, err := f.run(ctx)
		if err != nil {
			return nil, err
		}
		rec, ended, rest, ok := f.record(c, rows)
		if !ok {
			own, streamed = rest, true
			c.cfg.stats.Uncached.Add(1)
			return nil, errNotShared
		}
		if ended == nil {
			c.storeLater(ctx, key, stamps, tokens, func() ([]byte, error) { return f.encode(rec) }, unlock)
			unlock = func() {}
		} else {
			c.cfg.stats.Uncached.Add(1)
		}
		return &flight{rec: rec, err: ended}, nil
	})
	if led {
		var zero R
		switch {
		case streamed:
			return own, nil
		case err != nil:
			return zero, err
		}
		return f.replay(v.rec.(T), v.err), nil
	}
	v, err, ok := call.wait(ctx)
	if !ok {
		// The caller's deadline, not the leader's: the database reports it
		// as it would without cacheops.
		c.cfg.stats.Passthrough.Add(1)
		return f.run(ctx)
	}
	var rec T
	same := false
	if err == nil && v.err == nil {
		rec, same = v.rec.(T)
		same = same && f.fits(rec)
	}
	if !same {
		c.cfg.stats.Passthrough.Add(1)
		return f.run(ctx) // the leader failed: find out for ourselves
	}
	c.cfg.stats.Shared.Add(1)
	return f.replay(rec, nil), nil
}

// put stores an encoded result if its stamps still hold the tokens read
// before the query ran.
func (c *Config) put(ctx context.Context, key string, stamps []string, tokens string, payload []byte) {
	sctx, cancel := context.WithTimeout(ctx, c.RedisTimeout)
	defer cancel()
	stored, err := c.Store.Put(sctx, key, stamps, tokens, payload, c.TTL)
	switch {
	case err != nil:
		c.stats.RedisErrors.Add(1)
	case stored:
		c.stats.Stores.Add(1)
	default:
		c.stats.GuardDrops.Add(1)
	}
}
