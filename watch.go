package cacheops

import (
	"context"
	"database/sql"
	"errors"
	"time"

	cdriver "github.com/cacheops/cacheops/driver"
	"github.com/cacheops/cacheops/watch"
)

// DefaultWatchMaxLag is Options.WatchMaxLag's default.
const DefaultWatchMaxLag = cdriver.DefaultWatchMaxLag

// WatchOptions configure Watch.
type WatchOptions = watch.Options

// Watch follows the committed changes of db's database through logical
// decoding (PostgreSQL's pgoutput, a publication FOR ALL TABLES and a
// replication slot, created when missing) and invalidates what they change,
// as writes through cacheops do: writes made outside cacheops (psql, other
// programs, an unwrapped pool, COPY) are then seen, once the watcher has
// delivered them. replicationDSN connects to the same database as a role
// with REPLICATION (wal_level must be logical). It runs until ctx ends,
// reconnecting after failures; the slot resumes after the last transaction
// whose invalidation reached Redis, so nothing is lost. A setup that cannot
// work (wal_level, privileges) is returned at once. Run it in as many
// processes as you like: the slot admits one reader, the others wait as
// standbys and the first to retry (every second) after the leader's
// connection ends takes over.
//
// The watcher measures its own lag and publishes it in Redis as a
// heartbeat; every process reading the database takes no hit while the
// watcher is behind by more than Options.WatchMaxLag. The slot keeps WAL
// until it is read: drop it with UnwatchDatabase (or `cacheops watch
// --uninstall`) when no watcher will run again.
func Watch(ctx context.Context, db *sql.DB, replicationDSN string, opts WatchOptions) error {
	first := true
	var target *cdriver.WatchTarget // the last one got: it logs for the cache
	for {
		t, err := watchTarget(ctx, db)
		if err == nil {
			target = t
			// The watcher's process may make no read that would reload the
			// catalog after a schema change: the target does it.
			target.Reload = func(ctx context.Context) { watchTarget(ctx, db) }
			err = watch.Run(ctx, replicationDSN, target, opts)
		}
		if ctx.Err() != nil {
			return nil
		}
		standby := watch.Standby(err)
		if first && !standby && !watch.Started(err) {
			return err
		}
		first = false
		if !standby && target != nil {
			target.Warn(ctx, "cacheops: the watcher stopped; restarting", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
}

func watchTarget(ctx context.Context, db *sql.DB) (*cdriver.WatchTarget, error) {
	var target *cdriver.WatchTarget
	err := withConn(ctx, db, func(c *cdriver.Conn) error {
		t, err := c.WatchTarget(ctx)
		target = t
		return err
	})
	return target, err
}

// UnwatchDatabase drops the watcher's replication slot (which otherwise
// keeps WAL for a reader that will not come) and its publication, and the
// heartbeat in Redis, so that db's readers stop waiting for a watcher.
func UnwatchDatabase(ctx context.Context, db *sql.DB, replicationDSN string, opts WatchOptions) error {
	target, err := watchTarget(ctx, db)
	if err != nil {
		return err
	}
	return errors.Join(watch.Uninstall(ctx, replicationDSN, opts), target.ForgetHeartbeat(ctx))
}
