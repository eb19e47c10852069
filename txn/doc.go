// Package txn keeps the cache-relevant state of one connection's transaction:
// whether one is open, whether it may use the cache (clean, READ COMMITTED)
// or must bypass it (it wrote, ran something unknown, failed, or runs at
// REPEATABLE READ or SERIALIZABLE), and the invalidations it has queued for
// COMMIT.
package txn
