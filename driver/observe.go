package driver

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Event is one step of the cache, as Hooks see it.
type Event struct {
	// SQL is the statement of a read (Hit, Miss, Store, GuardDrop); empty
	// for a CachedAs value (Key names it) and the other events.
	SQL string
	// Tables are the relations ("schema"."table") a read depends on.
	Tables []string
	// Key is the entry's Redis key (reads).
	Key string
	// Bytes is the entry's size (Hit from Redis, Store).
	Bytes int
	// Local: the hit was answered from process memory (Options.Local).
	Local bool
	// Stamps is the number of stamps an invalidation deleted or kept.
	Stamps int
	// Start and Duration time the Redis step: the lookup (Hit, Miss), the
	// guarded store (Store, GuardDrop), the invalidation's delivery
	// (Invalidate), the failed call (RedisError); for Watch, Start is when
	// the decoded transaction committed (PostgreSQL's clock) and Duration
	// how long until its invalidation was delivered.
	Start    time.Time
	Duration time.Duration
	// Err is the Redis error (RedisError), or why an invalidation was kept
	// for later (Invalidate).
	Err error
}

// Hooks are called after each step of the cache, on the goroutine that made
// it (a store's on the goroutine that stored it in the background). They
// must be quick and must not call the cache. Nil hooks cost nothing.
type Hooks struct {
	Hit, Miss, Store, GuardDrop, Invalidate, RedisError func(context.Context, Event)
	// Watch is called by a watcher (package watch) for each decoded
	// transaction it has invalidated.
	Watch func(context.Context, Event)
}

// timed reports whether a step should be timed for a hook.
func (h *Hooks) timed() bool {
	return h.Hit != nil || h.Miss != nil || h.Store != nil || h.GuardDrop != nil || h.Invalidate != nil || h.RedisError != nil
}

// call runs hook, if set, with e timed from start.
func call(ctx context.Context, hook func(context.Context, Event), e Event, start time.Time) {
	if hook == nil {
		return
	}
	if !start.IsZero() {
		e.Start, e.Duration = start, time.Since(start)
	}
	hook(ctx, e)
}

// since is time.Now when hooks want timings, else the zero time (no clock
// read on the hot path).
func (c *Config) since() time.Time {
	if c.hooksTimed {
		return time.Now()
	}
	return time.Time{}
}

// logEvery bounds how often one kind of log line is written.
const logEvery = 10 * time.Second

// LimitedLog writes each kind of line (by message) at most once per 10 s,
// with the number of lines it kept back since.
type LimitedLog struct {
	mu   sync.Mutex
	last map[string]time.Time
	kept map[string]int
}

func (l *LimitedLog) Log(ctx context.Context, logger *slog.Logger, level slog.Level, msg string, attrs ...any) {
	if logger == nil || !logger.Enabled(ctx, level) {
		return
	}
	l.mu.Lock()
	now := time.Now()
	if l.last == nil {
		l.last, l.kept = map[string]time.Time{}, map[string]int{}
	}
	if t, ok := l.last[msg]; ok && now.Sub(t) < logEvery {
		l.kept[msg]++
		l.mu.Unlock()
		return
	}
	if n := l.kept[msg]; n > 0 {
		attrs = append(attrs, slog.Int("repeated", n))
	}
	l.last[msg], l.kept[msg] = now, 0
	l.mu.Unlock()
	logger.Log(ctx, level, msg, attrs...)
}

// redisFailed counts a failed Redis call and tells the hooks and the log.
func (c *Config) redisFailed(ctx context.Context, err error, start time.Time) {
	c.stats.RedisErrors.Add(1)
	call(ctx, c.Hooks.RedisError, Event{Err: err}, start)
	c.logs.Log(ctx, c.Logger, slog.LevelWarn, "cacheops: Redis call failed; the statement went to PostgreSQL", slog.Any("err", err))
}

// recordRedis feeds a Redis call's outcome to the circuit breaker and logs
// its transitions.
func (c *Config) recordRedis(ctx context.Context, err error) {
	switch opened, closed := c.breaker.Record(err); {
	case opened:
		c.logs.Log(ctx, c.Logger, slog.LevelWarn, "cacheops: Redis unreachable; reads go to PostgreSQL and invalidations are kept until it answers", slog.Any("err", err))
	case closed:
		c.logs.Log(ctx, c.Logger, slog.LevelInfo, "cacheops: Redis answers again")
	}
}
