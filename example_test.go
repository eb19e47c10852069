package cacheops_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"
	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops"
)

// The registered driver: Redis from CACHEOPS_REDIS, prefix from CACHEOPS_PREFIX.
func Example() {
	db, err := sql.Open("cacheops-postgres", "postgres://app@localhost:5432/app")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	var title string
	// The first call runs the query and caches the row; the next ones are
	// answered from Redis until a write to post invalidates them.
	_ = db.QueryRow("SELECT title FROM post WHERE id = $1", 1).Scan(&title)
}

// sqlx knows cacheops-postgres uses $1 bindvars.
func Example_sqlx() {
	db := sqlx.MustConnect("cacheops-postgres", "postgres://app@localhost:5432/app")
	defer db.Close()
	var ids []int
	query, args, _ := sqlx.In("SELECT id FROM post WHERE category_id IN (?)", []int{1, 2})
	_ = db.Select(&ids, db.Rebind(query), args...)
}

// A Cache with its own settings opens databases from DSNs.
func ExampleNew() {
	cache, err := cacheops.New(cacheops.Options{
		Redis:   redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"}),
		Prefix:  "myapp:",
		TTL:     10 * time.Minute,
		MaxRows: 1000,
	})
	if err != nil {
		panic(err)
	}
	defer cache.Close()
	db, err := cache.OpenDB("postgres://app@localhost:5432/app")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	fmt.Println(cache.Stats().Hits)
}

// A pgx pool with the cache: use the wrapper where the pool was used,
// pgx.BeginFunc, pgx.CollectRows and sqlc's pgx/v5 code included.
func ExampleCache_WrapPool() {
	ctx := context.Background()
	cache, err := cacheops.Default() // CACHEOPS_REDIS, CACHEOPS_PREFIX
	if err != nil {
		panic(err)
	}
	raw, err := pgxpool.New(ctx, "postgres://app@localhost:5432/app")
	if err != nil {
		panic(err)
	}
	pool := cache.WrapPool(raw)
	defer pool.Close()
	rows, _ := pool.Query(ctx, "SELECT id FROM post WHERE category_id = $1", 3) // then from Redis
	ids, _ := pgx.CollectRows(rows, pgx.RowTo[int32])
	_ = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "UPDATE post SET category_id = 4 WHERE id = ANY($1)", ids)
		return err // invalidated when the transaction commits
	})
}

// A master elected by Sentinels, named in the URL; writes of unknown outcome
// invalidated again after two seconds.
func ExampleNew_sentinel() {
	cache, err := cacheops.New(cacheops.Options{
		RedisURL:       "redis://sentinel-1:26379/0?master_name=main&addr=sentinel-2:26379",
		AmbiguousDelay: 2 * time.Second,
	})
	if err != nil {
		panic(err)
	}
	defer cache.Close()
}

// A Redis Cluster, by seed nodes in the URL (or pass a redis.ClusterClient
// as Options.Redis); each invalidation waits for one replica per master.
func ExampleNew_cluster() {
	cache, err := cacheops.New(cacheops.Options{
		RedisURL:     "redis://redis-1:7001?addr=redis-2:7002&addr=redis-3:7003",
		WaitReplicas: 1,
	})
	if err != nil {
		panic(err)
	}
	defer cache.Close()
}

// A local layer: hits from this process' memory, 20x faster than a
// primary-key read. A read may miss another process' writes of the last
// 100 ms, never this process' own; CACHEOPS_LOCAL=100ms does the same for
// the registered driver.
func ExampleNew_local() {
	cache, err := cacheops.New(cacheops.Options{
		RedisURL: "redis://localhost:6379/0",
		Local:    cacheops.LocalOptions{MaxStaleness: 100 * time.Millisecond, MaxBytes: 256 << 20},
	})
	if err != nil {
		panic(err)
	}
	defer cache.Close()
	db, err := cache.OpenDB("postgres://app@localhost:5432/app")
	if err != nil {
		panic(err)
	}
	defer db.Close()
	var title string
	_ = db.QueryRow("SELECT title FROM post WHERE id = $1", 1).Scan(&title)
}

// Wrap any connector, here pgx's from a parsed config.
func ExampleCache_WrapConnector() {
	cache, _ := cacheops.New(cacheops.Options{RedisURL: "redis://127.0.0.1:6379/0"})
	cfg, _ := pgx.ParseConfig("postgres://app@localhost:5432/app")
	db := sql.OpenDB(cache.WrapConnector(stdlib.GetConnector(*cfg)))
	defer db.Close()
}

// Register a cache under a driver name of your own.
func ExampleCache_Driver() {
	cache, _ := cacheops.New(cacheops.Options{Prefix: "reports:"})
	sql.Register("reports-postgres", cache.Driver())
	db, _ := sql.Open("reports-postgres", "postgres://app@localhost:5432/app")
	defer db.Close()
}

// Writes in a transaction invalidate at COMMIT; ROLLBACK invalidates nothing.
func ExampleCache_OpenDB_transaction() {
	cache, _ := cacheops.New(cacheops.Options{})
	db, _ := cache.OpenDB("postgres://app@localhost:5432/app")
	ctx := context.Background()
	tx, _ := db.BeginTx(ctx, nil)
	_, _ = tx.ExecContext(ctx, "UPDATE post SET title = $1 WHERE id = $2", "new", 1)
	_ = tx.Commit() // other connections see the new title as soon as Commit returns
}

// After writes made outside cacheops (a migration, psql), invalidate by hand.
func ExampleInvalidateTables() {
	db, _ := sql.Open("cacheops-postgres", "postgres://app@localhost:5432/app")
	ctx := context.Background()
	_ = cacheops.InvalidateTables(ctx, db, "post", "billing.invoice")
	_ = cacheops.InvalidateAll(ctx, db) // everything of this database
}

// Steering one call: skip the cache, refresh an entry, or give it a TTL of
// its own — by context, or by a comment where no context can be passed.
func ExampleNoCache() {
	db, _ := sql.Open("cacheops-postgres", "postgres://app@localhost:5432/app")
	defer db.Close()
	ctx := context.Background()
	var balance int
	// Straight to PostgreSQL, nothing stored (writes still invalidate).
	_ = db.QueryRowContext(cacheops.NoCache(ctx), "SELECT balance FROM account WHERE id = $1", 7).Scan(&balance)
	// The same for code that cannot pass a context.
	_ = db.QueryRow("/* cacheops:nocache */ SELECT balance FROM account WHERE id = $1", 7).Scan(&balance)
}

// After a write made outside cacheops, a refresh replaces the entry every
// other reader uses.
func ExampleRefresh() {
	db, _ := sql.Open("cacheops-postgres", "postgres://app@localhost:5432/app")
	defer db.Close()
	var title string
	_ = db.QueryRowContext(cacheops.Refresh(context.Background()), "SELECT title FROM post WHERE id = $1", 1).Scan(&title)
}

// A short life for one read's entry; cacheops.WithTTL(ctx, d) does the same.
func ExampleWithTTL() {
	db, _ := sql.Open("cacheops-postgres", "postgres://app@localhost:5432/app")
	defer db.Close()
	var n int
	_ = db.QueryRowContext(cacheops.WithTTL(context.Background(), 30*time.Second), "SELECT count(*) FROM post").Scan(&n)
	_ = db.QueryRow("SELECT count(*) FROM post /* cacheops:ttl=30s */").Scan(&n)
}

// Table rules: cache only some tables, some for less than the default TTL.
// The registered driver reads the same from
// CACHEOPS_TABLES="*=off,public.*=on,audit_log=off,public.stock=10s".
func ExampleTableRule() {
	cache, _ := cacheops.New(cacheops.Options{
		Tables: map[string]cacheops.TableRule{
			"*":            {Cache: false},                       // nothing by default,
			"public.*":     {Cache: true},                        // but the public schema,
			"audit_log":    {Cache: false},                       // not its audit log,
			"public.stock": {Cache: true, TTL: 10 * time.Second}, // and stock briefly.
		},
	})
	defer cache.Close()
}

// Any function's result, cached until a write to what it read: here a
// post's page, invalidated by writes to the post's row, its comments and
// the category table.
func ExampleCachedAs() {
	db, _ := sql.Open("cacheops-postgres", "postgres://app@localhost:5432/app")
	defer db.Close()
	type page struct {
		Title    string
		Comments int
	}
	p, err := cacheops.CachedAs(context.Background(), db, "post-page:7", cacheops.Deps{
		Rows:    []cacheops.TableRow{{Table: "post", Row: cacheops.Row{"id": 7}}},
		Queries: []cacheops.Query{{SQL: "SELECT id FROM comment WHERE post_id = $1", Args: []any{7}}},
		Tables:  []string{"category"},
	}, func(ctx context.Context) (page, error) {
		var p page
		err := db.QueryRowContext(ctx, "SELECT p.title, count(c.id) FROM post p LEFT JOIN comment c ON c.post_id = p.id WHERE p.id = $1 GROUP BY p.title", 7).Scan(&p.Title, &p.Comments)
		return p, err
	})
	fmt.Println(p, err)
}

// After a write made outside cacheops to known rows: only what may hold
// them goes.
func ExampleInvalidateRows() {
	db, _ := sql.Open("cacheops-postgres", "postgres://app@localhost:5432/app")
	defer db.Close()
	_ = cacheops.InvalidateRows(context.Background(), db, "post", cacheops.Row{"id": 7}, cacheops.Row{"id": 8})
}

// What the cache does with a statement, without running it.
func ExampleExplain() {
	db, _ := sql.Open("cacheops-postgres", "postgres://app@localhost:5432/app")
	defer db.Close()
	ex, err := cacheops.Explain(context.Background(), db, "SELECT title FROM post WHERE id = $1", 7)
	if err == nil {
		fmt.Println(ex.Cacheable, ex.Reason, ex.Tables, ex.Conjunctions)
	}
}

// Logs, hooks and a health check.
func ExampleHooks() {
	var hits atomic.Int64
	cache, _ := cacheops.New(cacheops.Options{
		Logger: slog.Default(),
		Hooks: cacheops.Hooks{
			Hit: func(ctx context.Context, e cacheops.Event) { hits.Add(1) },
			RedisError: func(ctx context.Context, e cacheops.Event) {
				slog.WarnContext(ctx, "cache", "err", e.Err, "took", e.Duration)
			},
		},
	})
	defer cache.Close()
	if err := cache.Ping(context.Background()); err != nil {
		fmt.Println("Redis:", err)
	}
}
