package driver

import (
	"sync/atomic"
	"time"
)

// breaker stops Redis calls after repeated failures: while it is open the
// read path goes straight to PostgreSQL and invalidations are kept for
// later, with no Redis call and no timeout to wait for. After a cool-down it
// lets one call through; a success closes it.
type breaker struct {
	failures  atomic.Int32
	openUntil atomic.Int64 // unix nanoseconds; 0: closed
	threshold int32
	cooldown  time.Duration
}

// allow reports whether a Redis call may be made now.
func (b *breaker) allow() bool {
	until := b.openUntil.Load()
	if until == 0 {
		return true
	}
	now := time.Now().UnixNano()
	if now < until {
		return false
	}
	// Half-open: one caller tries; the others wait for another cool-down.
	return b.openUntil.CompareAndSwap(until, now+int64(b.cooldown))
}

// isOpen reports whether calls are being refused, without taking the
// half-open probe that allow hands out.
func (b *breaker) isOpen() bool {
	until := b.openUntil.Load()
	return until != 0 && time.Now().UnixNano() < until
}

// record notes a Redis call's outcome, and whether it opened the breaker
// (it was closed) or closed it (it was open).
func (b *breaker) record(err error) (opened, closed bool) {
	if err == nil {
		if b.failures.Load() != 0 || b.openUntil.Load() != 0 {
			b.failures.Store(0)
			closed = b.openUntil.Swap(0) != 0
		}
		return false, closed
	}
	if b.failures.Add(1) >= b.threshold {
		opened = b.openUntil.Swap(time.Now().Add(b.cooldown).UnixNano()) == 0
	}
	return opened, false
}
