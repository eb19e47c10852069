// Package driver is the caching database/sql driver: it wraps another
// driver's connections (pgx stdlib in practice), answers cacheable reads from
// Redis, fills the cache on a miss behind the stale-fill guard, and turns
// every write into stamp invalidations, at once in autocommit and at COMMIT
// inside a transaction.
//
// It forwards every optional database/sql interface of the wrapped driver
// (otelsql's rule: type-assert the parent, else database/sql's own default),
// and a replayed result answers every column question (ColumnTypes) exactly
// as the original rows did.
//
// PgxConn gives a pgx connection the same state and the same read and write
// paths under pgx's own interface (the root package's WrapPool): one code
// for both, generic over the result form (driver values recorded as a
// serialize.Result, or pgx's raw values as a serialize.Wire).
//
// Most programs use the root package cacheops instead of this one.
package driver
