package driver

import (
	"context"
	"log/slog"
	"time"

	"github.com/cacheops/cacheops/catalog"
	"github.com/cacheops/cacheops/keys"
)

// plan returns the resolved plan of query for this connection's session. On
// the hot path it is one map lookup: no parse, no catalog query.
func (c *Conn) plan(ctx context.Context, query string) *plan {
	db := c.sess.db
	if (db.stale.Load() || db.wantReload.Load()) && !c.tx.Active() {
		c.catalog(ctx) // a reload is due (rate-limited)
	}
	if c.plans == nil || c.planGen != db.gen.Load() {
		c.plans, c.planGen = db.plansFor(c.sess.fingerprint)
	}
	if p, ok := c.plans.Get(query); ok {
		return p
	}
	a := c.cfg.analyse(query)
	cat := c.catalog(ctx)
	kp := keys.Resolve(a, cat, &c.sess.keys)
	p := db.newPlan(kp, cat, c.cfg)
	switch {
	case !kp.Complete:
		db.wantReload.Store(true)
	case cat != nil && c.sess.ok && !kp.Provisional:
		c.plans.Add(query, p)
	}
	return p
}

// catalog returns the database's catalog, reading it first when there is none
// yet, after DDL, or when a name was missing. It reads only outside a
// transaction: a failing catalog query must never abort the caller's
// transaction. A stale catalog is never used: nil makes reads pass through
// and writes invalidate the whole database.
func (c *Conn) catalog(ctx context.Context) *catalog.Catalog {
	db := c.sess.db
	// Whoever finds no usable catalog waits for a load under way rather than
	// go on without one.
	if (db.cat.Load() == nil || db.stale.Load() || db.wantReload.Load()) && !c.tx.Active() {
		db.loadMu.Lock()
		if db.mayLoad() {
			db.lastLoad.Store(time.Now().UnixNano())
			// A relation dropped while the catalog is read makes a catalog
			// function fail (pg_get_viewdef): try again at once.
			token := c.cfg.schemaToken(ctx, db)
			start := time.Now()
			for attempt := 0; attempt < 3; attempt++ {
				c.cfg.stats.CatalogLoads.Add(1)
				cat, err := c.loadCatalog(ctx)
				if err == nil {
					cat.Token = token
					db.setCatalog(cat)
					c.plans = nil
					c.cfg.logs.Log(ctx, c.cfg.Logger, slog.LevelDebug, "cacheops: catalog loaded", slog.String("database", db.id),
						slog.Duration("took", time.Since(start)))
					break
				}
				if attempt == 2 {
					c.cfg.logs.Log(ctx, c.cfg.Logger, slog.LevelWarn, "cacheops: catalog could not be read; reads pass through, writes invalidate the database",
						slog.String("database", db.id), slog.Any("err", err))
				}
			}
		}
		db.loadMu.Unlock()
		if c.plans == nil {
			c.plans, c.planGen = db.plansFor(c.sess.fingerprint)
		}
	}
	if db.stale.Load() {
		return nil
	}
	return db.cat.Load()
}
