package driver

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// Every Redis call is bounded by RedisTimeout through its context's
// deadline. context.WithTimeout makes a timer per call, and adding a timer
// can wake the runtime's network poller (a futex call, costly on a small
// VM). Calls whose context cannot be cancelled — stores and invalidations,
// which must not stop when their caller gives up, and callers with no
// context of their own — share one deadline, and one timer, per eighth of
// RedisTimeout instead: such a call is given between RedisTimeout and nine
// eighths of it. A call whose context can be cancelled keeps its own
// (context.WithTimeout), so that the caller's cancellation reaches it.

// sharedDeadlines hands out the current shared deadline.
type sharedDeadlines struct {
	mu  sync.Mutex
	cur atomic.Pointer[sharedDeadline]
}

// sharedDeadline is one deadline and the channel closed when it passes.
type sharedDeadline struct {
	at     time.Time
	done   chan struct{}
	passed atomic.Bool
}

// within returns a context that ends no earlier than timeout from now and
// no later than nine eighths of it; cancel must be called.
func (s *sharedDeadlines) within(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	if ctx.Done() != nil {
		if d, ok := ctx.Deadline(); ok && time.Until(d) <= timeout {
			return ctx, func() {} // the caller's own deadline is the tighter
		}
		return context.WithTimeout(ctx, timeout)
	}
	return deadlineContext{ctx, s.get(timeout)}, func() {}
}

// get returns a deadline at least timeout away: the current one, or a new
// one an eighth of timeout later (so that the calls of that eighth share
// it).
func (s *sharedDeadlines) get(timeout time.Duration) *sharedDeadline {
	want := time.Now().Add(timeout)
	if d := s.cur.Load(); d != nil && !d.at.Before(want) {
		return d
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.cur.Load(); d != nil && !d.at.Before(want) {
		return d
	}
	slice := timeout / 8
	d := &sharedDeadline{at: want.Add(slice), done: make(chan struct{})}
	time.AfterFunc(timeout+slice, func() {
		d.passed.Store(true)
		close(d.done)
	})
	s.cur.Store(d)
	return d
}

// deadlineContext is a context that cannot be cancelled (its values kept)
// with a shared deadline.
type deadlineContext struct {
	context.Context
	d *sharedDeadline
}

func (c deadlineContext) Deadline() (time.Time, bool) { return c.d.at, true }

func (c deadlineContext) Done() <-chan struct{} { return c.d.done }

func (c deadlineContext) Err() error {
	if c.d.passed.Load() {
		return context.DeadlineExceeded
	}
	return nil
}

// redisContext bounds one Redis call by RedisTimeout (see sharedDeadlines);
// cancel must be called.
func (c *Config) redisContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return c.deadlines.within(ctx, c.RedisTimeout)
}
