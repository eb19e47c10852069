package cacheops

// DisableInvalidationForTesting lets the torture test prove that its checker
// catches the stale reads a cache without invalidation serves.
func DisableInvalidationForTesting(c *Cache, off bool) { c.cfg.DisableInvalidationForTesting(off) }
