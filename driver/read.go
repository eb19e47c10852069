package driver

import (
	"context"
	"database/sql/driver"
	"unsafe"

	"github.com/cacheops/cacheops/keys"
)

// runQuery runs a statement on the wrapped connection: sql is the text to
// run (a prepared statement runs what it was prepared with).
type runQuery func(ctx context.Context, sql string) (driver.Rows, error)

// runExec runs the caller's statement as written, for Exec.
type runExec func(ctx context.Context) (driver.Result, error)

// stmtForm is one API's way of running a statement: its result form for
// cacheable reads (whose run runs the caller's statement), and the rest a
// statement with effects needs.
type stmtForm[R, T any] interface {
	resultForm[R, T]
	// runSQL runs sql, a write's captured form, in place of the caller's
	// text (a prepared statement runs what it was prepared with).
	runSQL(ctx context.Context, sql string) (R, error)
	// plain runs the caller's text as written, for a captured write whose
	// capture PostgreSQL rejected; ok false: it cannot be.
	plain(ctx context.Context) (rows R, err error, ok bool)
	// captured serves a captured write's rows through log.
	captured(rows R, log *captureLog) R
	// hooked calls done with the outcome once the rows are closed.
	hooked(rows R, done func(error)) R
	// failed is what goes back with err, given what the run returned.
	failed(rows R, err error) R
}

// statement is the path every statement with rows takes, from both APIs:
// reads use the cache, captured writes report their rows, everything else
// passes through and has its effects applied when its rows are closed. ns
// extends the session's namespace in entry keys (the pgx form's entries
// differ from database/sql's).
func statement[R, T any](c *Conn, ctx context.Context, p *plan, text, ns string, args []driver.NamedValue, capt *keys.Capture, f stmtForm[R, T]) (R, error) {
	if p.Cacheable && c.usesCache(ctx) {
		ctl := c.readControl(ctx, p)
		if ctl.skip {
			c.cfg.stats.Skipped.Add(1)
		} else if c.cfg.local != nil {
			// The local layer keys results by the call's material itself:
			// the hash is only needed if it misses.
			buf := append(make([]byte, 0, 256), p.entryPrefix...)
			if mat, ok := keys.EntryMaterial(append(buf, 0), c.sess.namespace+ns, p.keyText(text), args); ok {
				return cachedRead(c, ctx, p, text, "", localCall{p.entryPrefix, mat}, args, ctl, f)
			}
		} else if key, ok := keys.EntryKey(p.entryPrefix, c.sess.namespace+ns, p.keyText(text), args); ok {
			return cachedRead(c, ctx, p, text, key, localCall{}, args, ctl, f)
		}
	}
	c.cfg.stats.Passthrough.Add(1)
	if capt != nil {
		rows, err := f.runSQL(ctx, capt.SQL)
		if err != nil && c.uncaptured(p, err) {
			if prows, perr, ok := f.plain(ctx); ok {
				if perr != nil {
					c.after(ctx, p, perr, nil)
					return f.failed(prows, perr), perr
				}
				return f.hooked(prows, func(err error) { c.after(ctx, p, err, nil) }), nil
			}
		}
		if err != nil {
			c.after(ctx, p, err, nil)
			return f.failed(rows, err), err
		}
		return f.captured(rows, newCaptureLog(ctx, c, p, capt)), nil
	}
	rows, err := f.run(ctx)
	if !p.effects {
		return rows, err
	}
	changes := p.changes(args)
	if err != nil {
		c.after(ctx, p, err, changes)
		return f.failed(rows, err), err
	}
	return f.hooked(rows, func(err error) { c.after(ctx, p, err, changes) }), nil
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

// localCall is a call read through the local layer: its entry's prefix and
// its material (keys.EntryMaterial, after the prefix and a zero byte).
type localCall struct {
	prefix string
	mat    []byte
}

// cachedRead answers from the local layer or Redis on a valid hit;
// otherwise it runs the query and records the result for a guarded store.
// Both APIs' reads come here, with the entry's key or, through the local
// layer, the call (the key is made if it misses).
func cachedRead[R, T any](c *Conn, ctx context.Context, p *plan, text, key string, lcall localCall, args []driver.NamedValue, ctl readControl, f resultForm[R, T]) (R, error) {
	stats := &c.cfg.stats
	if ctx.Err() != nil {
		return f.run(ctx) // the database reports the cancellation as it would without cacheops
	}
	var lkey string
	var seq0 uint64
	lc := c.cfg.local
	if k := lcall; k.mat != nil {
		// The material is never written again: it can be the map's key.
		lkey = unsafe.String(unsafe.SliceData(k.mat), len(k.mat))
		if !ctl.refresh {
			if v, ok := lc.get(lkey); ok {
				if rec, ok := v.(T); ok && f.fits(rec) {
					stats.LocalHits.Add(1)
					if c.cfg.Hooks.Hit != nil {
						call(ctx, c.cfg.Hooks.Hit, Event{SQL: text, Tables: p.Deps, Key: keys.EntryKeyOf(k.prefix, k.mat[len(k.prefix)+1:]), Local: true}, c.cfg.since())
					}
					return f.replay(rec), nil
				}
			}
			seq0 = lc.begin() // before the lookup: see localCache
		}
		key = keys.EntryKeyOf(k.prefix, k.mat[len(k.prefix)+1:])
		if ctl.refresh {
			// What it stores is what this process reads next: its entry
			// (indexed by its Redis key) goes, and so does one a lookup
			// under way would put.
			lc.invalidated([]string{key})
		}
	}
	if !c.cfg.breaker.Allow() {
		stats.Passthrough.Add(1)
		return f.run(ctx) // Redis is down: no call, no timeout to wait for
	}
	c.cfg.awaitStore(ctx, key)
	start := c.cfg.since()
	stamps, inst := c.sess.db.readKeys(p, args)
	lctx, cancel := c.cfg.redisContext(ctx)
	defer cancel()
	var payload []byte
	var tokens string
	var err error
	// Stamps outlive the entries that depend on them.
	stampTTL := 2 * max(c.cfg.TTL, ctl.ttl)
	switch {
	case ctl.refresh:
		// No lookup: register and read the stamps, then run the query.
		tokens, err = c.cfg.Store.Register(lctx, c.sess.db.registrations(inst), stamps, stampTTL)
	case p.mostlyMisses():
		// Lookup and registration in one round trip.
		payload, tokens, err = c.cfg.Store.LookupOrRegister(lctx, key, c.sess.db.registrations(inst), stamps, stampTTL)
	default:
		payload, tokens, err = c.cfg.Store.Lookup(lctx, key, stamps)
		if err == nil && payload == nil {
			// A miss: register the schemes and read the stamps before the query.
			tokens, err = c.cfg.Store.Register(lctx, c.sess.db.registrations(inst), stamps, stampTTL)
		}
	}
	if err == nil && !ctl.refresh {
		p.observeLookup(payload != nil)
	}
	if ctx.Err() == nil {
		c.cfg.recordRedis(ctx, err) // the caller giving up says nothing of Redis
	}
	if err != nil {
		c.cfg.redisFailed(ctx, err, start)
		stats.Passthrough.Add(1)
		return f.run(ctx)
	}
	if !c.sess.db.observeSchema(p, tokens) {
		// The schema may have changed elsewhere: neither trust the entry nor
		// fill one from a plan made with the old catalog.
		stats.Passthrough.Add(1)
		return f.run(ctx)
	}
	if payload != nil {
		rec, err := f.decode(payload)
		if err == nil && !f.fits(rec) {
			stats.Passthrough.Add(1)
			return f.run(ctx)
		}
		if err == nil {
			stats.Hits.Add(1)
			call(ctx, c.cfg.Hooks.Hit, Event{SQL: text, Tables: p.Deps, Key: key, Bytes: len(payload)}, start)
			if lkey != "" {
				// The entry's own key is one of its stamps: a store over
				// it (a refresh), its deletion or its expiry drops it too.
				lc.put(lkey, rec, append(stamps[:len(stamps):len(stamps)], key), seq0, len(payload), ctl.ttl)
			}
			return f.replay(rec), nil
		}
		stats.DecodeErrors.Add(1)
		dctx, cancel := c.cfg.redisContext(context.WithoutCancel(ctx))
		_ = c.cfg.Store.Delete(dctx, key)
		cancel()
		stats.Passthrough.Add(1)
		return f.run(ctx)
	}
	if ctl.refresh {
		stats.Refreshes.Add(1)
	} else {
		stats.Misses.Add(1)
		call(ctx, c.cfg.Hooks.Miss, Event{SQL: text, Tables: p.Deps, Key: key}, start)
	}
	return missRead(c, ctx, p, text, key, stamps, tokens, ctl, f)
}
