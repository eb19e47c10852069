package cacheops

import (
	"context"
	"log/slog"
	"sync"
)

// inProcessWatchers run a watcher for each database the cache opens by DSN
// (Options.Watch): one per DSN, on a small *sql.DB of their own, until the
// cache is closed.
type inProcessWatchers struct {
	opts   *WatchOptions
	ctx    context.Context
	cancel context.CancelFunc
	dsns   sync.Map
	wg     sync.WaitGroup
}

// watchDSN starts the watcher of dsn's database, once.
func (c *Cache) watchDSN(dsn string) {
	w := c.watchers
	if w == nil || dsn == "" {
		return
	}
	if _, started := w.dsns.LoadOrStore(dsn, true); started {
		return
	}
	db, err := c.openDB(dsn)
	if err != nil {
		return // the caller's own open reports it
	}
	db.SetMaxOpenConns(2)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		defer db.Close()
		if err := Watch(w.ctx, db, dsn, *w.opts); err != nil {
			c.cfg.Logger.Error("cacheops: Options.Watch: the watcher cannot run; outside writes will not be seen", slog.Any("err", err))
		}
	}()
}

// stop ends the watchers and waits for them.
func (w *inProcessWatchers) stop() {
	if w != nil {
		w.cancel()
		w.wg.Wait()
	}
}
