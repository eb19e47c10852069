package driver

import (
	"context"
	"errors"

	"github.com/cacheops/cacheops/keys"
)

// ErrNoRedis is returned by Invalidate when the cache has no Redis.
var ErrNoRedis = errors.New("cacheops: no Redis configured")

// Invalidate invalidates every cached read of the named tables (resolved on
// this connection, as SQL names are), or of the whole database when all is
// set: for writes made outside cacheops. Unlike invalidations after a
// write, a Redis failure is returned.
func (c *Conn) Invalidate(ctx context.Context, tables []string, all bool) error {
	if c.cfg.Store == nil {
		return ErrNoRedis
	}
	db := c.sess.db
	// Everything, and the schema stamp: every process reloads its catalog,
	// the remedy for a migration run outside cacheops.
	stamps := append(db.globalStamps[:], db.schemaStamps[:]...)
	if all {
		db.schemaChanged()
	} else {
		rels, err := keys.ResolveTables(c.catalog(ctx), &c.sess.keys, tables)
		if err != nil {
			return err
		}
		if rels != nil {
			stamps = db.wideStamps(keys.WideOf(rels), false)
		}
	}
	c.cfg.stats.Invalidations.Add(int64(len(stamps)))
	_, err := c.cfg.Store.Invalidate(ctx, stamps)
	return err
}
