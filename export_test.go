package cacheops

import "github.com/redis/go-redis/v9"

// DisableInvalidationForTesting lets the torture test prove that its checker
// catches the stale reads a cache without invalidation serves.
func DisableInvalidationForTesting(c *Cache, off bool) { c.cfg.DisableInvalidationForTesting(off) }

// ClientFromURLForTesting builds the client a Redis URL names, as New does.
func ClientFromURLForTesting(url string) (redis.UniversalClient, error) { return clientFromURL(url) }
