package driver

import (
	"sync/atomic"
	"time"
)

// Stats are the cache's counters.
type Stats struct {
	Hits, Misses, Shared, Stores, GuardDrops, Uncached atomic.Int64
	Passthrough, RedisErrors, DecodeErrors             atomic.Int64
	Invalidations, CatalogLoads                        atomic.Int64
	LockWaits, LockTimeouts                            atomic.Int64
	Ambiguous, Unreplicated                            atomic.Int64
	Skipped, Refreshes                                 atomic.Int64
	WatchBehind                                        atomic.Int64
	LocalHits                                          atomic.Int64
}

// StatsSnapshot is a point-in-time copy of Stats.
type StatsSnapshot struct {
	// Hits are reads answered from Redis.
	Hits int64
	// LocalHits are reads answered from process memory (Options.Local).
	LocalHits int64
	// LocalEntries and LocalBytes are what the local layer holds now
	// (bytes as counted against its MaxBytes).
	LocalEntries int
	LocalBytes   int64
	// Misses are cacheable reads not answered from Redis.
	Misses int64
	// Shared are misses answered by another reader's query in this process
	// (concurrent misses of one entry run the query once).
	Shared int64
	// Stores are results written to Redis.
	Stores int64
	// GuardDrops are results not stored because a write invalidated a stamp
	// while the query ran (the stale-fill guard).
	GuardDrops int64
	// Uncached are cacheable results not stored: too many rows, an error
	// while reading them, or a value that cannot be encoded.
	Uncached int64
	// Passthrough are statements that did not use the cache at all.
	Passthrough int64
	// RedisErrors are failed Redis calls; each fell back to PostgreSQL.
	RedisErrors int64
	// DecodeErrors are entries that could not be decoded (deleted, missed).
	DecodeErrors int64
	// Invalidations are stamps deleted.
	Invalidations int64
	// CatalogLoads are reads of the schema catalog.
	CatalogLoads int64
	// LockWaits are misses that waited for another process's fill;
	// LockTimeouts those that gave up waiting and queried themselves.
	LockWaits, LockTimeouts int64
	// Ambiguous are writes whose outcome was unknown (an ambiguous COMMIT, a
	// connection lost or a context ended mid-statement): invalidated whole,
	// at once and again after AmbiguousDelay.
	Ambiguous int64
	// Unreplicated are invalidations that reached the master but fewer
	// replicas than WaitReplicas acknowledged them in time: kept and sent
	// again, and until then this process serves no hits.
	Unreplicated int64
	// Skipped are cacheable reads kept from the cache by a control (NoCache,
	// a nocache hint, a table rule); they count as Passthrough too.
	Skipped int64
	// Refreshes are reads that ran the query to store a fresh result
	// (Refresh, a refresh hint) without looking the entry up.
	Refreshes int64
	// BreakerOpen: Redis has been failing and calls are not being made
	// (one probe per cool-down).
	BreakerOpen bool
	// UndeliveredStamps are invalidations kept until Redis takes them;
	// while there are any this process serves no hits.
	UndeliveredStamps int
	// WatchBehind are reads that took no hit because their database's
	// watcher was behind by more than WatchMaxLag; they count as Passthrough
	// too.
	WatchBehind int64
	// WatchLag is the largest lag seen of the watchers of the databases
	// this cache reads (the age of their last heartbeat); zero when none is
	// watched.
	WatchLag time.Duration
}

func (s *Stats) snapshot() StatsSnapshot {
	return StatsSnapshot{
		Hits: s.Hits.Load(), Misses: s.Misses.Load(), Shared: s.Shared.Load(), Stores: s.Stores.Load(), GuardDrops: s.GuardDrops.Load(),
		Uncached: s.Uncached.Load(), Passthrough: s.Passthrough.Load(), RedisErrors: s.RedisErrors.Load(),
		DecodeErrors: s.DecodeErrors.Load(), Invalidations: s.Invalidations.Load(), CatalogLoads: s.CatalogLoads.Load(),
		LockWaits: s.LockWaits.Load(), LockTimeouts: s.LockTimeouts.Load(), Ambiguous: s.Ambiguous.Load(),
		Unreplicated: s.Unreplicated.Load(), Skipped: s.Skipped.Load(), Refreshes: s.Refreshes.Load(),
		WatchBehind: s.WatchBehind.Load(), LocalHits: s.LocalHits.Load(),
	}
}
