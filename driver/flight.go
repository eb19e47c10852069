package driver

import (
	"context"
	"sync"
)

// flightGroup lets concurrent misses of one entry run the query once. Unlike
// x/sync/singleflight, the leader runs the query on its own goroutine (it owns
// the connection the query runs on, and must not return before it is done),
// and a waiter can leave when its own context ends.
type flightGroup struct {
	mu    sync.Mutex
	calls map[string]*flightCall
}

type flightCall struct {
	done chan struct{}
	val  *flight
	err  error
}

// lead runs fn as the leader of key, or returns false with the call to wait
// for when another caller leads it.
func (g *flightGroup) lead(key string, fn func() (*flight, error)) (val *flight, err error, call *flightCall, led bool) {
	g.mu.Lock()
	if c, ok := g.calls[key]; ok {
		g.mu.Unlock()
		return nil, nil, c, false
	}
	c := &flightCall{done: make(chan struct{})}
	if g.calls == nil {
		g.calls = map[string]*flightCall{}
	}
	g.calls[key] = c
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		delete(g.calls, key)
		g.mu.Unlock()
		close(c.done) // also when fn panics: waiters then run their own query
	}()
	c.err = errNotShared // what waiters see if fn panics
	c.val, c.err = fn()
	return c.val, c.err, c, true
}

// wait waits for the leader's result, or until ctx ends (ok false).
func (c *flightCall) wait(ctx context.Context) (val *flight, err error, ok bool) {
	select {
	case <-c.done:
		return c.val, c.err, true
	case <-ctx.Done():
		return nil, nil, false
	}
}
