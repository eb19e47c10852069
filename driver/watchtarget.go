package driver

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/cacheops/cacheops/catalog"
	"github.com/cacheops/cacheops/keys"
)

// WatchTarget is what a watcher of a database's committed changes (logical
// decoding) needs from the cache: the database's catalog, to read rows by,
// and the invalidation every write through cacheops uses.
type WatchTarget struct {
	cfg *Config
	db  *database
	// Reload reads the catalog again on a connection of the cache (a
	// watcher's process may read nothing else: without it, the first
	// schema change would leave it with no catalog, invalidating the whole
	// database for every transaction).
	Reload func(context.Context)
}

// WatchTarget returns the target for this connection's database.
func (c *Conn) WatchTarget(ctx context.Context) (*WatchTarget, error) {
	if c.cfg.Store == nil {
		return nil, ErrNoRedis
	}
	if !c.sess.ok {
		if err := c.readSession(ctx); err != nil {
			return nil, err
		}
	}
	c.catalog(ctx) // loaded before the first change arrives
	return &WatchTarget{cfg: c.cfg, db: c.sess.db}, nil
}

// Catalog is the database's current catalog, read again through Reload
// after a schema change; nil when none is usable (the watcher then
// invalidates the whole database).
func (t *WatchTarget) Catalog(ctx context.Context) *catalog.Catalog {
	if (t.db.stale.Load() || t.db.cat.Load() == nil) && t.Reload != nil {
		t.Reload(ctx)
	}
	if t.db.stale.Load() {
		return nil
	}
	return t.db.cat.Load()
}

// ErrKept: Redis did not take an invalidation; it is kept and sent again,
// and the process serves no hits until it lands.
var ErrKept = errors.New("cacheops: invalidation kept until Redis takes it")

// Invalidate delivers changes (global: the whole database) as a write
// through cacheops would, checked against the catalog the changes were read
// with (token; "" for none). It returns ErrKept while anything is kept:
// the watcher must not confirm the changes as handled.
func (t *WatchTarget) Invalidate(ctx context.Context, changes []keys.Change, global bool, token string) error {
	t.cfg.invalidate(ctx, t.db, changes, global, token)
	if t.cfg.hasUndelivered.Load() {
		return ErrKept
	}
	return nil
}

// Delivered reports whether no invalidation is kept: everything handled so
// far has reached Redis.
func (t *WatchTarget) Delivered() bool { return !t.cfg.hasUndelivered.Load() }

// SchemaChanged makes this process reload its catalog (a schema change the
// watcher decoded; other processes learn it from the schema stamps the
// invalidation deletes).
func (t *WatchTarget) SchemaChanged() { t.db.schemaChanged() }

// Warn logs through the cache's Logger, rate-limited like its other lines.
func (t *WatchTarget) Warn(ctx context.Context, msg string, err error) {
	t.cfg.logs.Log(ctx, t.cfg.Logger, slog.LevelWarn, msg, slog.Any("err", err))
}

// Clock reads the time of the Redis that holds the database's watcher
// heartbeat (microseconds).
func (t *WatchTarget) Clock(ctx context.Context) (int64, error) {
	ctx, cancel := t.cfg.redisContext(ctx)
	defer cancel()
	return t.cfg.Store.Clock(ctx, t.db.heartbeatKey())
}

// Heartbeat publishes that every change committed before micros (a time
// Clock read) is invalidated: readers allow hits while it is recent.
func (t *WatchTarget) Heartbeat(ctx context.Context, micros int64) {
	ctx, cancel := t.cfg.redisContext(ctx)
	defer cancel()
	_ = t.cfg.Store.SetHeartbeat(ctx, t.db.heartbeatKey(), micros)
}

// ForgetHeartbeat removes the heartbeat: the database is no longer
// watched, and its readers stop comparing with it.
func (t *WatchTarget) ForgetHeartbeat(ctx context.Context) error {
	return t.cfg.Store.Delete(ctx, t.db.heartbeatKey())
}

// Handled tells Hooks.Watch that a decoded transaction committed at
// committed (PostgreSQL's clock) has been invalidated.
func (t *WatchTarget) Handled(ctx context.Context, committed time.Time) {
	call(ctx, t.cfg.Hooks.Watch, Event{}, committed)
}
