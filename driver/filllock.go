package driver

import (
	"context"
	"time"

	"github.com/cacheops/cacheops/lua"
)

type fillLockKey struct{}

// WithFillLock turns the cross-process fill lock on or off for the reads
// made with ctx, whatever the cache's and the tables' settings.
func WithFillLock(ctx context.Context, on bool) context.Context {
	return context.WithValue(ctx, fillLockKey{}, on)
}

// wantsFillLock decides whether a miss takes the fill lock: the context
// decides first, then the plan (the cache's default or a table's setting).
// Never inside a transaction: it must not wait on another process.
func (c *Conn) wantsFillLock(ctx context.Context, p *plan) bool {
	if c.tx.Active() {
		return false
	}
	if on, ok := ctx.Value(fillLockKey{}).(bool); ok {
		return on
	}
	return p.fillLock
}

// awaitFill takes the entry's fill lock, or waits up to FillLockWait for the
// process that holds it to store the entry. It returns the entry when that
// happened (the caller decodes it; one it cannot decode is a miss);
// otherwise release (possibly a no-op) is to be called once the
// caller has filled, or given up. Redis trouble only ends the wait.
func (c *Conn) awaitFill(ctx context.Context, key string, stamps []string) (payload []byte, release func()) {
	cfg := c.cfg
	lockKey := key + ":lock"
	token := lua.NewToken()
	lctx, cancel := cfg.redisContext(ctx)
	got, err := cfg.Store.Lock(lctx, lockKey, token, cfg.FillLockWait)
	cancel()
	if err != nil {
		cfg.redisFailed(ctx, err, time.Time{})
		return nil, func() {}
	}
	if got {
		return nil, func() {
			uctx, cancel := cfg.redisContext(context.WithoutCancel(ctx))
			_ = cfg.Store.Unlock(uctx, lockKey, token)
			cancel()
		}
	}
	cfg.stats.LockWaits.Add(1)
	deadline := time.Now().Add(cfg.FillLockWait)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(5 * time.Millisecond)
		lctx, cancel := cfg.redisContext(ctx)
		payload, held, err := cfg.Store.LookupLocked(lctx, key, stamps, lockKey)
		cancel()
		if err != nil {
			cfg.redisFailed(ctx, err, time.Time{})
			break
		}
		if payload == nil && !held {
			// The holder finished without storing (too many rows, the
			// guard, an error) or gave up: nothing more to wait for.
			break
		}
		if payload != nil {
			return payload, func() {}
		}
	}
	cfg.stats.LockTimeouts.Add(1)
	return nil, func() {} // waited long enough: query the database ourselves
}
