package driver

import (
	"context"
	"database/sql/driver"

	"github.com/cacheops/cacheops/keys"
	"github.com/cacheops/cacheops/serialize"
)

// runQuery runs a statement on the wrapped connection: sql is the text to
// run (a prepared statement runs what it was prepared with).
type runQuery func(ctx context.Context, sql string) (driver.Rows, error)

// runExec runs the caller's statement as written, for Exec.
type runExec func(ctx context.Context) (driver.Result, error)

// query is the path shared by Conn.QueryContext and Stmt.QueryContext: reads
// use the cache, captured writes report their rows, everything else passes
// through and has its effects applied when its rows are closed.
// plain runs the caller's text as written (nil: it cannot be), for a
// captured write whose capture PostgreSQL rejected.
func (c *Conn) query(ctx context.Context, p *plan, sql string, args []driver.NamedValue, capt *keys.Capture, run, plain runQuery) (driver.Rows, error) {
	if p.Cacheable && c.usesCache(ctx) {
		if key, ok := keys.EntryKey(p.entryPrefix, c.sess.namespace, sql, args); ok {
			return c.cachedQuery(ctx, p, key, args, run)
		}
	}
	c.cfg.stats.Passthrough.Add(1)
	if capt != nil {
		rows, err := run(ctx, capt.SQL)
		if err != nil && plain != nil && c.uncaptured(p, err) {
			if rows, err = plain(ctx, sql); err != nil {
				c.after(ctx, p, err, nil)
				return nil, err
			}
			return &hookRows{forwardRows: forwardRows{rows}, done: func(err error) { c.after(ctx, p, err, nil) }}, nil
		}
		if err != nil {
			c.after(ctx, p, err, nil)
			return nil, err
		}
		return newCaptureRows(ctx, c, p, capt, rows), nil
	}
	rows, err := run(ctx, sql)
	if !p.effects {
		return rows, err
	}
	changes := p.changes(args)
	if err != nil {
		c.after(ctx, p, err, changes)
		return nil, err
	}
	return &hookRows{forwardRows: forwardRows{rows}, done: func(err error) { c.after(ctx, p, err, changes) }}, nil
}

// usesCache reports whether this connection may read the cache now.
func (c *Conn) usesCache(ctx context.Context) bool {
	if c.cfg.Store == nil || c.cfg.Disabled || !c.tx.UsesCache() {
		return false
	}
	if !c.sess.ok && (c.tx.Active() || c.readSession(ctx) != nil) {
		return false
	}
	return !c.cfg.cacheBlocked(ctx, c.sess.db)
}

// cachedQuery answers from Redis on a valid hit; otherwise it runs the query
// and records the result for a guarded store when the rows are closed.
func (c *Conn) cachedQuery(ctx context.Context, p *plan, key string, args []driver.NamedValue, run0 runQuery) (driver.Rows, error) {
	stats := &c.cfg.stats
	run := func(ctx context.Context) (driver.Rows, error) { return run0(ctx, "") }
	if ctx.Err() != nil {
		return run(ctx) // the database reports the cancellation as it would without cacheops
	}
	if !c.cfg.breaker.allow() {
		stats.Passthrough.Add(1)
		return run(ctx) // Redis is down: no call, no timeout to wait for
	}
	stamps, regs := c.sess.db.readKeys(p, args)
	lctx, cancel := context.WithTimeout(ctx, c.cfg.RedisTimeout)
	defer cancel()
	payload, tokens, err := c.cfg.Store.Lookup(lctx, key, stamps)
	if err == nil && payload == nil {
		// A miss: register the schemes and read the stamps before the query.
		tokens, err = c.cfg.Store.Register(lctx, regs, stamps, 2*c.cfg.TTL)
	}
	if ctx.Err() == nil {
		c.cfg.breaker.record(err) // the caller giving up says nothing of Redis
	}
	if err != nil {
		stats.RedisErrors.Add(1)
		stats.Passthrough.Add(1)
		return run(ctx)
	}
	if !c.sess.db.observeSchema(p, tokens) {
		// The schema may have changed elsewhere: neither trust the entry nor
		// fill one from a plan made with the old catalog.
		stats.Passthrough.Add(1)
		return run(ctx)
	}
	if payload != nil {
		res, err := serialize.Decode(payload)
		if err == nil {
			stats.Hits.Add(1)
			return newReplayRows(res), nil
		}
		stats.DecodeErrors.Add(1)
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.RedisTimeout)
		_ = c.cfg.Store.Delete(dctx, key)
		cancel()
		stats.Passthrough.Add(1)
		return run(ctx)
	}
	stats.Misses.Add(1)
	return c.miss(ctx, p, key, stamps, tokens, run)
}
