package cacheops

import (
	"github.com/redis/go-redis/v9"

	cdriver "github.com/cacheops/cacheops/driver"
)

// DisableInvalidationForTesting lets the torture test prove that its checker
// catches the stale reads a cache without invalidation serves.
func DisableInvalidationForTesting(c *Cache, off bool) { c.cfg.DisableInvalidationForTesting(off) }

// ClientFromURLForTesting builds the client a Redis URL names, as New does.
func ClientFromURLForTesting(url string) (redis.UniversalClient, error) { return clientFromURL(url) }

// SettleForTesting waits for every entry being stored in the background, by
// any Cache: a test that looks at Redis or at Stores sees them.
func SettleForTesting() { (*cdriver.Config)(nil).Settle() }

// SkipLocalHeartbeatForTesting lets tests prove that their checkers catch
// the stale reads a local layer that ignores its heartbeat serves.
func SkipLocalHeartbeatForTesting(c *Cache, on bool) { c.cfg.SkipLocalHeartbeatForTesting(on) }
