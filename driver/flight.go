package driver

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// flightGroup lets concurrent misses of one entry run the query once. Unlike
// x/sync/singleflight, the leader runs the query on its own goroutine (it owns
// the connection the query runs on) and finishes the call when its caller
// has read the rows, and a waiter can leave when its own context ends.
type flightGroup struct {
	mu    sync.Mutex
	calls map[string]*flightCall
}

type flightCall struct {
	done chan struct{}
	once sync.Once
	val  *flight
	err  error
	// idleSince is when the leader's caller last left its rows' Next
	// (unix ns; 0 while the leader waits for PostgreSQL).
	idleSince atomic.Int64
}

// reading marks the leader's caller entering (true) or leaving its rows'
// Next: waiters wait while it reads, not while it does something else.
func (c *flightCall) reading(in bool) {
	if in {
		c.idleSince.Store(0)
	} else {
		c.idleSince.Store(time.Now().UnixNano())
	}
}

// leaderIdle is how long the leader's caller may keep its rows without
// reading them before waiters stop waiting and run their own query: it may
// be busy with each row, or be waiting itself (a caller that reads the same
// query again while iterating the first).
const leaderIdle = 50 * time.Millisecond

// start makes the caller the leader of key (led true), who must finish the
// call, or returns the call another caller leads.
func (g *flightGroup) start(key string) (c *flightCall, led bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if c, ok := g.calls[key]; ok {
		return c, false
	}
	c = &flightCall{done: make(chan struct{})}
	if g.calls == nil {
		g.calls = map[string]*flightCall{}
	}
	g.calls[key] = c
	return c, true
}

// finish ends a call the leader started: its waiters get val and err, and
// the next miss of key leads a call of its own. Only the first settle counts.
func (g *flightGroup) finish(key string, c *flightCall, val *flight, err error) {
	g.forget(key, c)
	c.settle(val, err)
}

// settle hands the leader's result to its waiters, and to the misses of the
// call's key that come while it stays in the group: a result being stored
// stays there until the store has landed (forget), so a miss that looked
// the entry up before it landed shares the result rather than running the
// query again. Only the first settle counts.
func (c *flightCall) settle(val *flight, err error) {
	c.once.Do(func() {
		c.val, c.err = val, err
		close(c.done)
	})
}

// forget stops sending misses of key to c: its result has been stored (or
// was not), or its leader's caller has left its rows unread (a caller that
// never closes its rows must not cost every later miss the idle wait).
func (g *flightGroup) forget(key string, c *flightCall) {
	g.mu.Lock()
	if g.calls[key] == c {
		delete(g.calls, key)
	}
	g.mu.Unlock()
}

// wait waits for the leader's result, or until ctx ends, or until the
// leader's caller has left its rows unread for leaderIdle (ok false).
func (c *flightCall) wait(ctx context.Context) (val *flight, err error, ok, idle bool) {
	select {
	case <-c.done:
		return c.val, c.err, true, false
	default:
	}
	t := time.NewTicker(leaderIdle / 5)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return c.val, c.err, true, false
		case <-ctx.Done():
			return nil, nil, false, false
		case now := <-t.C:
			if since := c.idleSince.Load(); since != 0 && now.UnixNano()-since > int64(leaderIdle) {
				return nil, nil, false, true
			}
		}
	}
}
