package breaker

import (
	"sync/atomic"
	"time"
)

// The defaults: five failures in a row open a breaker for a second.
const (
	DefaultThreshold = 5
	DefaultCooldown  = time.Second
)

// Breaker stops calls after Threshold failures in a row: while it is open
// callers make no call and wait for no timeout. After Cooldown it lets one
// call through (half-open); a success closes it. The zero value never
// opens; set the fields before use.
type Breaker struct {
	Threshold int32
	Cooldown  time.Duration

	failures  atomic.Int32
	openUntil atomic.Int64 // unix nanoseconds; 0: closed
}

// Allow reports whether a call may be made now.
func (b *Breaker) Allow() bool {
	until := b.openUntil.Load()
	if until == 0 {
		return true
	}
	now := time.Now().UnixNano()
	if now < until {
		return false
	}
	// Half-open: one caller tries; the others wait for another cool-down.
	return b.openUntil.CompareAndSwap(until, now+int64(b.Cooldown))
}

// IsOpen reports whether calls are being refused, without taking the
// half-open probe that Allow hands out.
func (b *Breaker) IsOpen() bool {
	until := b.openUntil.Load()
	return until != 0 && time.Now().UnixNano() < until
}

// Record notes a call's outcome, and whether it opened the breaker (it was
// closed) or closed it (it was open).
func (b *Breaker) Record(err error) (opened, closed bool) {
	if err == nil {
		if b.failures.Load() != 0 || b.openUntil.Load() != 0 {
			b.failures.Store(0)
			closed = b.openUntil.Swap(0) != 0
		}
		return false, closed
	}
	if b.Threshold > 0 && b.failures.Add(1) >= b.Threshold {
		opened = b.openUntil.Swap(time.Now().Add(b.Cooldown).UnixNano()) == 0
	}
	return opened, false
}
