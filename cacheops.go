package cacheops

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/redis/go-redis/v9"

	cdriver "github.com/cacheops/cacheops/driver"
	"github.com/cacheops/cacheops/lua"
)

// Options configure a Cache. The zero value is usable: Redis from
// CACHEOPS_REDIS, prefix from CACHEOPS_PREFIX, TTL from CACHEOPS_TTL (else
// one hour), table rules from CACHEOPS_TABLES (else every table), results of
// up to 10,000 rows, caching enabled.
type Options struct {
	// Redis is the client to use: any redis.UniversalClient — a
	// *redis.Client, a failover (Sentinel) client or a *redis.ClusterClient
	// (a *redis.Client that names a cluster node is replaced, at the first
	// answer only a cluster node gives, by a cluster client with its
	// options). Set its
	// ContextTimeoutEnabled so that RedisTimeout bounds every call. A client
	// that reads from replicas is refused (ErrReplicaReads). Nil: a client
	// for RedisURL.
	Redis redis.UniversalClient
	// RedisURL is used when Redis is nil: a redis:// or rediss:// URL
	// (password, database number and TLS honoured); with master_name=… it
	// names Sentinels (redis://sentinel1:26379?master_name=main&addr=sentinel2:26379)
	// and the client follows the master they elect; with addr=… and no
	// master_name it names Redis Cluster seed nodes
	// (redis://host:7001?addr=host:7002&addr=host:7003). Empty:
	// CACHEOPS_REDIS, else redis://127.0.0.1:6379/0.
	RedisURL string
	// Prefix starts every Redis key. Empty: CACHEOPS_PREFIX, else "cacheops:".
	// A "{}" in it is refused (it would make Redis Cluster hash every key
	// whole); a complete hash tag ("app{x}:") puts every key on one node.
	Prefix string
	// TTL is how long a cached result lives. Zero: CACHEOPS_TTL, else one
	// hour.
	TTL time.Duration
	// MaxRows: results with more rows are streamed through and not cached.
	// Zero: 10,000.
	MaxRows int
	// Disabled turns reading and filling the cache off. Writes still
	// invalidate, so other processes sharing the Redis stay correct.
	Disabled bool
	// RedisTimeout bounds each Redis call on the read path; a slower Redis
	// is treated as down for that call. Calls whose context cannot be
	// cancelled (stores, invalidations) share a deadline per eighth of it,
	// so they get up to nine eighths of it. Zero: 250 ms.
	RedisTimeout time.Duration
	// LookupsThroughClient sends a hit's lookup through the Redis client.
	// By default, with a plain *redis.Client, lookups made one at a time
	// go over a few connections of cacheops' own to the same server
	// (dialled with the client's dialer, TLS, credentials, database and
	// name): 4–5 µs less per hit, but the client's hooks (tracing, say)
	// and pool statistics do not see them. On a cluster each master has
	// its own few, and a slot that moved sends the lookup through the
	// client. Concurrent lookups, writes, stores, Sentinel clients and
	// clients with OnConnect or a Limiter always use the client.
	LookupsThroughClient bool
	// MaxInList: IN (…) lists and = ANY($n) arrays up to this long make one
	// conjunction per value; longer ones are read as "any row". Zero: 16.
	MaxInList int
	// MaxCapturedRows: a write that changes more rows in one statement
	// invalidates its tables whole instead of row by row. Zero: 1,000.
	MaxCapturedRows int
	// FillLock makes concurrent misses of one entry in different processes
	// run the query once: one process fills while the others wait for its
	// entry (up to FillLockWait), then query PostgreSQL themselves. Misses in
	// one process always share one query. Never inside a transaction.
	// WithFillLock overrides it per call.
	FillLock bool
	// FillLockTables turns the fill lock on for reads of these tables
	// ("schema.table", or "table" in any schema), whatever FillLock says.
	FillLockTables []string
	// FillLockWait bounds the wait for another process's fill. Zero: 1 s.
	FillLockWait time.Duration
	// AmbiguousDelay: a write whose outcome is unknown (a COMMIT whose reply
	// was lost, a connection that broke or a context that ended while the
	// statement ran or its rows were read) is invalidated whole at once and
	// again after this delay, because its commit may become visible later
	// than its error (synchronous replication). Zero: 5 s; negative: only
	// at once.
	AmbiguousDelay time.Duration
	// WaitReplicas makes every invalidation wait (WAIT) until this many
	// replicas of each master it deleted stamps on acknowledged it, bounded
	// by RedisTimeout, so that a failover cannot bring a deleted stamp back
	// on a promoted replica. It costs each write the replication lag (about
	// one round trip to the replica); an invalidation acknowledged by fewer
	// is kept and sent again, and until then this process serves no hits.
	// Zero: no waiting.
	WaitReplicas int
	// RowSecurity lets tables with row level security be cached. Such a
	// table is never cached unless named here ("schema.table" or "table")
	// with every session setting its policies read; the values of those
	// settings then join every entry's key, next to the role. Name them all:
	// a policy reading a setting not named here would share entries between
	// sessions that see different rows.
	RowSecurity map[string][]string
	// Tables are rules by table: which tables' reads are cached and for how
	// long. A key is "schema.table", "table" (in any schema), "schema.*" or
	// "*"; the most specific one naming a table decides. A read is cached
	// only if every table it reads is, with the smallest TTL among theirs.
	// Nil: CACHEOPS_TABLES ("*=off,public.posts=on,public.comments=30s"),
	// else every table, with TTL.
	Tables map[string]TableRule
	// Logger gets what an operator needs to know: Redis unreachable and
	// back, invalidations kept for later and delivered, failed Redis calls
	// (a wrong password or database number among them), catalog loads (at
	// Debug) — each kind at most once per 10 s. Nil: slog.Default(). go-redis's own
	// log lines go there too (see the README's Failure section).
	Logger *slog.Logger
	// Hooks are called after each step: hit, miss, store, guard drop,
	// invalidation, Redis error, and a watcher's delivered transaction.
	Hooks Hooks
	// Watch runs a watcher (see Watch) in this process for each database
	// the cache opens by DSN (OpenDB, OpenDBConfig, WrapPool, the
	// registered driver), on that DSN: its role needs REPLICATION, and
	// wal_level must be logical. One process at a time holds the slot; the
	// others stand by. Nil: CACHEOPS_WATCH=1 turns it on with the default
	// WatchOptions, else off (run `cacheops watch` as a sidecar, or call
	// Watch).
	Watch *WatchOptions
	// WatchMaxLag: hits stop for a database whose watcher is behind by
	// more than this (its heartbeat in Redis is older), so that writes made
	// outside cacheops are seen within it; writes through cacheops are seen
	// at once whatever the lag. It applies to every database with a
	// watcher, wherever the watcher runs. Zero: 1 s; negative: hits never
	// wait for the watcher.
	WatchMaxLag time.Duration
	// Local turns on the local layer: results kept in this process'
	// memory and served without Redis while Redis has been heard from
	// within Local.MaxStaleness, so a read may miss the writes of other
	// processes made within MaxStaleness before it (never this process'
	// own). See the README's "Local layer". Zero: CACHEOPS_LOCAL (a
	// duration, the MaxStaleness), else off.
	Local LocalOptions
}

// LocalOptions configure the local layer; see driver.LocalOptions.
type LocalOptions = cdriver.LocalOptions

// WithFillLock turns the cross-process fill lock on or off for the reads
// made with ctx, whatever Options say.
func WithFillLock(ctx context.Context, on bool) context.Context {
	return cdriver.WithFillLock(ctx, on)
}

// Cache is a configured cache; it opens caching *sql.DBs.
type Cache struct {
	cfg       *cdriver.Config
	rdb       redis.UniversalClient
	ownsRedis bool
	watchers  *inProcessWatchers // Options.Watch; nil when off
}

// DefaultRedisURL is used when neither Options nor CACHEOPS_REDIS name a Redis.
const DefaultRedisURL = "redis://127.0.0.1:6379/0"

// ErrRing is returned by New for a *redis.Ring: it shards keys by a hash of
// its own, with no hash tags, so the keys one step reads or changes
// together would land on different shards. Use Redis Cluster.
var ErrRing = errors.New("cacheops: a redis.Ring cannot keep a step's keys together; use Redis Cluster")

// New returns a Cache for opts.
func New(opts Options) (*Cache, error) {
	if _, ok := opts.Redis.(*redis.Ring); ok {
		return nil, ErrRing
	}
	if cc, ok := opts.Redis.(*redis.ClusterClient); ok {
		if o := cc.Options(); o.ReadOnly || o.RouteRandomly || o.RouteByLatency {
			return nil, ErrReplicaReads
		}
	}
	if err := fromEnvironment(&opts); err != nil {
		return nil, err
	}
	for pattern, r := range opts.Tables {
		if pattern == "" || r.TTL < 0 {
			return nil, fmt.Errorf("cacheops: Tables[%q]: an empty pattern or a negative TTL", pattern)
		}
	}
	prefix := opts.Prefix
	if prefix == "" {
		prefix = os.Getenv("CACHEOPS_PREFIX")
	}
	if prefix == "" {
		prefix = "cacheops:"
	}
	if err := cdriver.CheckPrefix(prefix); err != nil {
		return nil, err
	}
	c := &Cache{rdb: opts.Redis}
	if c.rdb == nil {
		url := opts.RedisURL
		if url == "" {
			url = os.Getenv("CACHEOPS_REDIS")
		}
		if url == "" {
			url = DefaultRedisURL
		}
		rdb, err := clientFromURL(url)
		if err != nil {
			return nil, err
		}
		c.rdb, c.ownsRedis = rdb, true
	}
	logger := opts.Logger
	if logger == nil {
		logger = slog.Default()
	}
	routeRedisLog(logger)
	store := lua.NewStore(c.rdb)
	store.SetWaitReplicas(opts.WaitReplicas)
	if opts.LookupsThroughClient {
		store.LookupsThroughClient()
	}
	c.cfg = (&cdriver.Config{
		Store:           store,
		Prefix:          prefix,
		TTL:             opts.TTL,
		MaxRows:         opts.MaxRows,
		Disabled:        opts.Disabled,
		RedisTimeout:    opts.RedisTimeout,
		MaxInList:       opts.MaxInList,
		MaxCapturedRows: opts.MaxCapturedRows,
		FillLock:        opts.FillLock,
		FillLockTables:  opts.FillLockTables,
		FillLockWait:    opts.FillLockWait,
		AmbiguousDelay:  opts.AmbiguousDelay,
		RowSecurity:     opts.RowSecurity,
		Tables:          opts.Tables,
		Logger:          logger,
		Hooks:           opts.Hooks,
		WatchMaxLag:     opts.WatchMaxLag,
		Local:           opts.Local,
	}).Init()
	if opts.Watch != nil {
		ctx, cancel := context.WithCancel(context.Background())
		c.watchers = &inProcessWatchers{opts: opts.Watch, ctx: ctx, cancel: cancel}
		c.cfg.OnDSN = c.watchDSN
	}
	return c, nil
}

// OpenDB opens a caching *sql.DB for a PostgreSQL DSN (any DSN pgx accepts).
func (c *Cache) OpenDB(dsn string) (*sql.DB, error) {
	db, err := c.openDB(dsn)
	if err == nil {
		c.watchDSN(dsn)
	}
	return db, err
}

func (c *Cache) openDB(dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, err
	}
	return sql.OpenDB(c.WrapConnector(stdlib.GetConnector(*cfg))), nil
}

// OpenDBConfig opens a caching *sql.DB for a pgx connection config.
func (c *Cache) OpenDBConfig(config pgx.ConnConfig, opts ...stdlib.OptionOpenDB) *sql.DB {
	c.watchDSN(config.ConnString())
	return sql.OpenDB(c.WrapConnector(stdlib.GetConnector(config, opts...)))
}

// WrapConnector wraps any connector to PostgreSQL, such as
// stdlib.GetConnector or stdlib.GetPoolConnector.
func (c *Cache) WrapConnector(parent driver.Connector) driver.Connector {
	return cdriver.NewConnector(parent, c.cfg)
}

// Driver returns a driver.Driver that opens caching connections from DSNs,
// for sql.Register under a name of your own.
func (c *Cache) Driver() driver.Driver {
	return cdriver.NewDriver(stdlib.GetDefaultDriver(), func() (*cdriver.Config, error) { return c.cfg, nil })
}

// Stats returns the cache's counters.
func (c *Cache) Stats() Stats { return c.cfg.Stats() }

// Stats are a Cache's counters; see driver.StatsSnapshot.
type Stats = cdriver.StatsSnapshot

// Redis returns the Redis client the cache uses (the cluster client it made,
// when the one it was given named a cluster node).
func (c *Cache) Redis() redis.UniversalClient { return c.cfg.Store.Client() }

// Prefix returns the prefix of every Redis key the cache uses.
func (c *Cache) Prefix() string { return c.cfg.Prefix }

// Close waits for the entries being stored in the background, then closes
// the Redis client if the Cache created it.
func (c *Cache) Close() error {
	c.watchers.stop()
	c.cfg.Settle()
	c.cfg.Close()
	err := c.cfg.Store.Close()
	if c.ownsRedis {
		err = errors.Join(err, c.rdb.Close())
	}
	return err
}
