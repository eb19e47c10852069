package driver

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/cacheops/cacheops/keys"
	"github.com/cacheops/cacheops/lua"
)

// ErrNotTracked is returned by CachedAs for a dependency whose writes the
// cache cannot follow (a query it would not cache: now(), a temporary
// table, row level security, …): the value could not be invalidated.
var ErrNotTracked = errors.New("cacheops: a dependency the cache cannot track")

// DepQuery is a query whose result a cached value depends on: the value is
// invalidated by every write that would invalidate the query's entry.
type DepQuery struct {
	SQL  string
	Args []driver.NamedValue
}

// CachedAsPlan is a CachedAs call resolved on a connection: its entry key,
// the stamps it is checked against and the schemes it registers. It is used
// without the connection (the function it caches may need one).
type CachedAsPlan struct {
	cfg    *Config
	db     *database
	key    string
	stamps []string
	regs   []lua.Registration
	// plans and where their stamps start, for the schema check.
	plans   []*plan
	offsets []int
}

// PlanCachedAs resolves the dependencies of a value cached under name.
func (c *Conn) PlanCachedAs(ctx context.Context, name string, deps []DepQuery) (*CachedAsPlan, error) {
	if len(deps) == 0 {
		return nil, fmt.Errorf("%w: no dependencies (a value that depends on nothing would never be invalidated)", ErrNotTracked)
	}
	if !c.sess.ok {
		if err := c.readSession(ctx); err != nil {
			return nil, err
		}
	}
	cp := &CachedAsPlan{cfg: c.cfg, db: c.sess.db}
	var inst []keys.ConjInstance
	prefix := ""
	for _, d := range deps {
		p := c.plan(ctx, d.SQL)
		if !p.Cacheable {
			return nil, fmt.Errorf("%w: %s: %s", ErrNotTracked, d.SQL, p.Reason)
		}
		if prefix == "" {
			prefix = p.entryPrefix
		}
		stamps, in := c.sess.db.readKeys(p, d.Args)
		cp.plans, cp.offsets = append(cp.plans, p), append(cp.offsets, len(cp.stamps))
		cp.stamps = append(cp.stamps, stamps...)
		inst = append(inst, in...)
	}
	// Keyed apart from query entries, and by the session's namespace (role,
	// search_path, settings): a value computed for one role is never
	// another's.
	key, ok := keys.EntryKey(prefix, c.sess.namespace+"\x00cachedas", name, nil)
	if !ok {
		return nil, fmt.Errorf("cacheops: CachedAs key %q", name)
	}
	cp.key, cp.regs = key, c.sess.db.registrations(inst)
	return cp, nil
}

// Do returns the value cached under the plan's key if every stamp still
// holds the token it was stored with; otherwise it runs fn and stores its
// result behind the stale-fill guard (the tokens read before fn ran), as a
// query's miss does. Concurrent misses in the process run fn once. decode
// reports whether a cached value is usable (one that is not is replaced).
// Redis trouble only means fn runs.
func (cp *CachedAsPlan) Do(ctx context.Context, fn func(context.Context) ([]byte, error), decode func([]byte) bool) ([]byte, error) {
	c := cp.cfg
	if c.Store == nil || c.Disabled || c.cacheBlocked(ctx, cp.db) || !c.breaker.Allow() {
		c.stats.Passthrough.Add(1)
		return fn(ctx)
	}
	c.awaitStore(ctx, cp.key)
	start := c.since()
	lctx, cancel := c.redisContext(ctx)
	payload, tokens, err := c.Store.Lookup(lctx, cp.key, cp.stamps)
	if err == nil && payload == nil {
		tokens, err = c.Store.Register(lctx, cp.regs, cp.stamps, 2*c.TTL)
	}
	cancel()
	if ctx.Err() == nil {
		c.recordRedis(ctx, err)
	}
	if err != nil {
		c.redisFailed(ctx, err, start)
		c.stats.Passthrough.Add(1)
		return fn(ctx)
	}
	for i, p := range cp.plans {
		if !cp.db.observeSchema(p, tokens[cp.offsets[i]*lua.TokenLen:]) {
			c.stats.Passthrough.Add(1) // planned with an old catalog
			return fn(ctx)
		}
	}
	ev := Event{Key: cp.key}
	if payload != nil {
		if decode(payload) {
			c.stats.Hits.Add(1)
			ev.Bytes = len(payload)
			call(ctx, c.Hooks.Hit, ev, start)
			return payload, nil
		}
		c.stats.DecodeErrors.Add(1)
		// Not usable: fill afresh (registering, for the tokens).
		rctx, cancel := c.redisContext(ctx)
		tokens, err = c.Store.Register(rctx, cp.regs, cp.stamps, 2*c.TTL)
		cancel()
		if err != nil {
			c.redisFailed(ctx, err, start)
			return fn(ctx)
		}
	}
	c.stats.Misses.Add(1)
	call(ctx, c.Hooks.Miss, ev, start)
	fkey := cp.key + "\x00" + tokens
	fc, led := c.flights.start(fkey)
	if !led {
		if v, err, ok, _ := fc.wait(ctx); ok && err == nil {
			if b, ok := v.rec.([]byte); ok {
				c.stats.Shared.Add(1)
				return b, nil
			}
		}
		return fn(ctx)
	}
	val, err := fn(ctx)
	if err != nil {
		c.flights.finish(fkey, fc, nil, errNotShared)
		return val, err
	}
	// The call stays in the group until the value has landed: a caller
	// that looked it up before then shares it rather than running fn.
	c.storeLater(ctx, ev, cp.stamps, tokens, c.TTL, func() ([]byte, error) { return val, nil }, func() { c.flights.forget(fkey, fc) })
	fc.settle(&flight{rec: val}, nil)
	return val, nil
}

// InvalidateRows invalidates the cached reads of rows of table, each known
// by the values of some of its columns (its primary key, say): every entry
// that may hold one of those rows, whatever its other columns held. A Redis
// failure is returned (the invalidation is also kept and sent again).
func (c *Conn) InvalidateRows(ctx context.Context, table string, rows []map[string]any) error {
	if c.cfg.Store == nil {
		return ErrNoRedis
	}
	if !c.sess.ok {
		if err := c.readSession(ctx); err != nil {
			return err
		}
	}
	cat := c.catalog(ctx)
	if cat == nil {
		// No catalog to resolve the table by: everything goes.
		c.cfg.invalidate(ctx, c.sess.db, nil, true, "")
	} else {
		changes, err := keys.RowChanges(cat, &c.sess.keys, table, rows)
		if err != nil {
			return err
		}
		c.cfg.invalidate(ctx, c.sess.db, changes, false, cat.Token)
	}
	if c.cfg.hasUndelivered.Load() {
		return ErrKept
	}
	return nil
}
