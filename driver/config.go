package driver

import (
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/cacheops/cacheops/internal/breaker"
	"github.com/cacheops/cacheops/keys"
	"github.com/cacheops/cacheops/lua"
)

// DefaultAmbiguousDelay is how long after a write of unknown outcome its
// invalidation is repeated, by default.
const DefaultAmbiguousDelay = 5 * time.Second

// Config is what every connection of one cache shares.
type Config struct {
	// Store is the Redis side; nil disables caching (everything passes
	// through, nothing is invalidated).
	Store *lua.Store
	// Prefix starts every Redis key.
	Prefix string
	// TTL is how long an entry lives.
	TTL time.Duration
	// MaxRows: results with more rows stream through uncached.
	MaxRows int
	// Disabled: never read or fill the cache, but still invalidate, so that
	// other processes sharing the Redis stay correct.
	Disabled bool
	// RedisTimeout bounds every Redis call on the read path.
	RedisTimeout time.Duration
	// MaxInList: IN lists and ANY arrays up to this long are kept as
	// conjunction terms.
	MaxInList int
	// MaxCapturedRows: a write reporting more rows invalidates its tables
	// whole.
	MaxCapturedRows int
	// FillLock: misses take a cross-process fill lock by default.
	FillLock bool
	// FillLockTables: misses reading these tables ("schema.table" or
	// "table") take the lock whatever FillLock says.
	FillLockTables []string
	// FillLockWait bounds the wait for another process's fill.
	FillLockWait time.Duration
	// AmbiguousDelay: a write whose outcome is unknown (an ambiguous COMMIT,
	// a connection lost mid-statement) is invalidated at once and again
	// after this delay. Negative: only at once.
	AmbiguousDelay time.Duration
	// RowSecurity names tables with row level security ("schema.table" or
	// "table") with the settings their policies read: their values join
	// every entry's namespace, and those tables are cached.
	RowSecurity map[string][]string
	// Tables are per-table rules by pattern ("schema.table", "table",
	// "schema.*", "*"); the most specific pattern naming a table decides.
	Tables map[string]TableRule
	// Logger gets what an operator should know (Redis unreachable and
	// back, invalidations kept and delivered, catalog loads at Debug), each
	// kind at most once per 10 s; nil: none.
	Logger *slog.Logger
	// Hooks are called after each step (hits, misses, stores, guard drops,
	// invalidations, Redis errors).
	Hooks Hooks
	// WatchMaxLag: hits stop for a database whose watcher (see package
	// watch) is behind by more than this. Zero: DefaultWatchMaxLag;
	// negative: hits never wait for the watcher.
	WatchMaxLag time.Duration
	// Local turns the local layer on: results kept in process memory and
	// served while Redis has been heard from within Local.MaxStaleness.
	Local LocalOptions
	// OnDSN is told the DSN of each database the registered driver opens
	// (in-process watchers start there).
	OnDSN func(dsn string)

	stats     Stats
	local     *localCache   // nil: no local layer
	tracker   *localTracker // follows Redis for local
	breaker   breaker.Breaker
	deadlines sharedDeadlines
	// sessionSQL reads the namespace, with the settings RowSecurity names.
	sessionSQL      string
	sessionSettings []string
	flights         flightGroup
	analyses        *lru.Cache[string, *keys.Analysis]
	dbs             sync.Map // database id → *database

	undeliveredMu  sync.Mutex
	undelivered    map[string]uint64 // stamp → the keep that put it there
	keeps          uint64
	hasUndelivered atomic.Bool
	noInvalidation atomic.Bool
	// nativeKey names this cache's state in a pgx connection's CustomData.
	nativeKey  string
	hooksTimed bool
	logs       LimitedLog
	// redeliverer: a goroutine sends kept invalidations until none is left;
	// closed stops it.
	redeliverer atomic.Bool
	closed      atomic.Bool
}

// Close stops the redeliverer (kept invalidations are then lost with the
// process, as on a crash).
func (c *Config) Close() {
	c.closed.Store(true)
	if c.tracker != nil {
		c.tracker.close()
	}
}

// SkipLocalHeartbeatForTesting serves local hits however long Redis has
// not been heard from, so that tests can prove their checkers see the
// stale reads that follow. Never use it otherwise.
func (c *Config) SkipLocalHeartbeatForTesting(on bool) {
	if c.local != nil {
		c.local.skipHeartbeat.Store(on)
	}
}

// DisableInvalidationForTesting switches invalidation off, so that tests can
// prove their checkers see the stale reads that follow. Never use it
// otherwise.
func (c *Config) DisableInvalidationForTesting(off bool) { c.noInvalidation.Store(off) }

// Init fills in defaults; it must be called before the Config is used.
func (c *Config) Init() *Config {
	if c.TTL <= 0 {
		c.TTL = time.Hour
	}
	if c.MaxRows <= 0 {
		c.MaxRows = 10000
	}
	if c.RedisTimeout <= 0 {
		c.RedisTimeout = 250 * time.Millisecond
	}
	if c.MaxInList <= 0 {
		c.MaxInList = keys.DefaultMaxInList
	}
	c.breaker.Threshold, c.breaker.Cooldown = breaker.DefaultThreshold, breaker.DefaultCooldown
	if c.AmbiguousDelay == 0 {
		c.AmbiguousDelay = DefaultAmbiguousDelay
	}
	if c.WatchMaxLag == 0 {
		c.WatchMaxLag = DefaultWatchMaxLag
	}
	if c.FillLockWait <= 0 {
		c.FillLockWait = time.Second
	}
	if c.MaxCapturedRows <= 0 {
		c.MaxCapturedRows = keys.DefaultMaxCapturedRows
	}
	c.analyses, _ = lru.New[string, *keys.Analysis](4096)
	c.sessionSQL, c.sessionSettings = sessionQuery(c.RowSecurity)
	c.nativeKey = fmt.Sprintf("cacheops/%p", c)
	c.hooksTimed = c.Hooks.timed()
	if c.Local.MaxStaleness > 0 && c.Store != nil {
		c.local = newLocalCache(c.Local)
		c.Store.OnInvalidated(c.local.invalidated)
		c.tracker = startLocalTracker(c, c.local)
	}
	return c
}

// Stats returns a snapshot of the counters, once the stores in flight when
// it is called have landed (each is bounded by RedisTimeout): a miss's
// store is counted by the time the miss is.
func (c *Config) Stats() StatsSnapshot {
	c.Settle()
	s := c.stats.snapshot()
	s.BreakerOpen = c.breaker.IsOpen()
	s.WatchLag = c.watchLagSnapshot()
	if c.local != nil {
		s.LocalEntries, s.LocalBytes = c.local.size()
	}
	c.undeliveredMu.Lock()
	s.UndeliveredStamps = len(c.undelivered)
	c.undeliveredMu.Unlock()
	return s
}

// analyse returns the cached analysis of sql: the hot path never parses.
func (c *Config) analyse(sql string) *keys.Analysis {
	if a, ok := c.analyses.Get(sql); ok {
		return a
	}
	a := keys.AnalyseWith(sql, c.MaxInList)
	c.analyses.Add(sql, a)
	return a
}

func (c *Config) database(id string) *database {
	if d, ok := c.dbs.Load(id); ok {
		return d.(*database)
	}
	d, _ := c.dbs.LoadOrStore(id, newDatabase(id, c.Prefix))
	return d.(*database)
}
