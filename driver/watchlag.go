package driver

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultWatchMaxLag is how far behind a database's watcher may be before
// its readers stop taking hits, by default.
const DefaultWatchMaxLag = time.Second

// watchLag is what a process knows of its database's watcher (if any):
// readers poll the heartbeat the watcher publishes, and take no hit once
// the changes it may not have invalidated yet are older than WatchMaxLag.
type watchLag struct {
	// first: the first poll, which every first reader waits for, and the
	// poller's start.
	first sync.Once
	// known: a poll has answered (until then the poller polls as often as
	// for a watched database).
	known atomic.Bool
	// watched: the database has a heartbeat (a watcher runs, or ran and
	// stopped without being uninstalled).
	watched atomic.Bool
	// hitsUntil is the monotonic time (nanoseconds since processStart) until
	// which hits are allowed: the last heartbeat seen plus WatchMaxLag.
	hitsUntil atomic.Int64
	// lag is the last lag seen (nanoseconds).
	lag atomic.Int64
}

var processStart = time.Now()

func monotonic() int64 { return int64(time.Since(processStart)) }

// heartbeatKey names the heartbeat of a database's watcher.
func (l *layout) heartbeatKey() string { return l.tags[0] + "w:" + l.id }

// watchBehind reports whether db's watcher is known to be behind by more
// than WatchMaxLag, so that a hit could miss an outside write. The first
// readers wait for one poll (unless Redis is known to be down: no read
// waits a timeout for it); a poller then keeps the answer current.
func (c *Config) watchBehind(ctx context.Context, db *database) bool {
	if c.WatchMaxLag < 0 || c.Store == nil {
		return false
	}
	w := &db.watch
	w.first.Do(func() {
		if !c.breaker.IsOpen() {
			c.pollHeartbeat(ctx, db)
		}
		go c.heartbeatPoller(db)
	})
	if !w.watched.Load() || monotonic() <= w.hitsUntil.Load() {
		return false
	}
	c.stats.WatchBehind.Add(1)
	return true
}

// pollEvery is how often readers read the heartbeat of a watched database
// (a quarter of the bound, at most 250 ms: a lag is noticed well before it
// matters) or of one whose heartbeat is still unknown, and of one not
// watched (a watcher started later is noticed within a second).
func (c *Config) pollEvery(w *watchLag) time.Duration {
	if w.known.Load() && !w.watched.Load() {
		return time.Second
	}
	return min(max(c.WatchMaxLag/4, 10*time.Millisecond), 250*time.Millisecond)
}

func (c *Config) heartbeatPoller(db *database) {
	for !c.closed.Load() {
		time.Sleep(c.pollEvery(&db.watch))
		c.pollHeartbeat(context.Background(), db)
	}
}

// pollHeartbeat reads the heartbeat and the clock of the Redis that holds
// it. Everything committed before the heartbeat was invalidated; the poll
// was sent no later than the clock was read, so hits stay allowed until
// the poll's start plus WatchMaxLag minus the lag. A failed poll changes
// nothing: hits stop when the last known bound passes.
func (c *Config) pollHeartbeat(ctx context.Context, db *database) {
	start := monotonic()
	ctx, cancel := c.redisContext(context.WithoutCancel(ctx))
	defer cancel()
	beat, ok, now, err := c.Store.Heartbeat(ctx, db.heartbeatKey())
	w := &db.watch
	if err != nil {
		return
	}
	defer w.known.Store(true) // after the answer is stored
	if !ok {
		w.watched.Store(false)
		w.lag.Store(0)
		return
	}
	lag := time.Duration(max(now-beat, 0)) * time.Microsecond
	w.lag.Store(int64(lag))
	w.hitsUntil.Store(start + int64(c.WatchMaxLag-lag))
	if !w.watched.Swap(true) {
		c.logs.Log(ctx, c.Logger, slog.LevelDebug, "cacheops: the database has a watcher", slog.String("database", db.id))
	}
	if lag > c.WatchMaxLag {
		c.logs.Log(ctx, c.Logger, slog.LevelWarn, "cacheops: the watcher is behind; no hits until it catches up",
			slog.String("database", db.id), slog.Duration("lag", lag), slog.Duration("max", c.WatchMaxLag))
	}
}

// watchLagSnapshot is the largest lag seen among watched databases.
func (c *Config) watchLagSnapshot() time.Duration {
	var worst time.Duration
	c.dbs.Range(func(_, v any) bool {
		if w := &v.(*database).watch; w.watched.Load() {
			worst = max(worst, time.Duration(w.lag.Load()))
		}
		return true
	})
	return worst
}
