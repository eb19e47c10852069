// Package cacheops is a database/sql driver for PostgreSQL that caches query
// results in Redis and invalidates them automatically when data changes.
//
//	import _ "github.com/cacheops/cacheops" // registers "cacheops-postgres"
//
//	db, err := sql.Open("cacheops-postgres", "postgres://app@localhost/app")
//	db := sqlx.MustConnect("cacheops-postgres", dsn) // $1 bindvars work
//
// Code written against pgx's own interface (pgxpool, sqlc's pgx/v5 output)
// wraps its pool instead: Cache.WrapPool returns a *Pool with pgxpool's
// methods, sharing entries' stamps with the database/sql path.
//
//	pool := cache.WrapPool(pgxPool) // Query, QueryRow, Exec, Begin, SendBatch, CopyFrom…
//
// The registered driver reads its Redis from CACHEOPS_REDIS (a redis:// URL,
// default redis://127.0.0.1:6379/0) and its key prefix from CACHEOPS_PREFIX.
// For anything else build a Cache with New and open databases from it.
//
// # What is cached
//
// Single, deterministic SELECTs: no locking clause, no volatile or
// clock-dependent function, no system catalog, temporary table, sequence,
// foreign table or table with row level security. Everything else passes
// straight through to PostgreSQL.
//
// # How invalidation works
//
// Invalidation is granular. For every relation a read touches, cacheops
// derives from WHERE and JOIN … ON the rows it depends on, as conjunctions of
// column = value (=, IN, = ANY($n), IS NULL; anything else makes them
// broader). Every entry depends on stamps: the database's, one per relation,
// one per conjunction and one per conjunction scheme. Writes get a hidden
// RETURNING of the columns that can appear in conjunctions; after the write
// commits, cacheops deletes the stamps of the conjunctions the written rows
// belong to, for every scheme readers registered on the table (an UPDATE's
// assigned columns, whose old values are unknown, invalidate their schemes
// whole). In autocommit this happens before Exec returns; inside a
// transaction when COMMIT returns, never after ROLLBACK. A transaction reads
// the cache until it writes; at REPEATABLE READ or SERIALIZABLE it never
// does. A miss stores its result only if no stamp changed while its query
// ran (the stale-fill guard). DDL, CALL, DO and user functions that may write
// invalidate the whole database.
//
// # The local layer
//
// With Options.Local (or CACHEOPS_LOCAL=<duration>) a process also keeps
// the results it read from Redis in its own memory, dropped when Redis
// reports (CLIENT TRACKING, broadcast mode) a change to a stamp they depend
// on, and at once by this process' own writes. They are served only while
// the tracking connections answered a heartbeat within MaxStaleness: a
// read then sees every write of another process that returned more than
// MaxStaleness before it started. It is off by default.
//
// # Failure
//
// Redis is an optimisation: a Redis error falls back to PostgreSQL and is
// counted in Stats, never returned. PostgreSQL's own errors reach the caller
// unchanged.
package cacheops
