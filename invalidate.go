package cacheops

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"

	cdriver "github.com/cacheops/cacheops/driver"
)

// ErrNotCacheops is returned when a *sql.DB was not opened through cacheops.
var ErrNotCacheops = errors.New("cacheops: not a cacheops database")

// InvalidateTables invalidates every cached read of the named tables, for
// writes made outside cacheops (psql, a migration, another program). Names
// are resolved as in SQL on one of db's connections: "table" through its
// search_path, or "schema.table". Partitions, parent tables and tables that
// foreign keys cascade into are invalidated too.
func InvalidateTables(ctx context.Context, db *sql.DB, tables ...string) error {
	return withConn(ctx, db, func(c *cdriver.Conn) error { return c.Invalidate(ctx, tables, false) })
}

// InvalidateAll invalidates every cached read of db's database, and makes
// every process reload its catalog: the remedy for a migration run outside
// cacheops. db may be cacheops' or a wrapper's around it (otelsql and any
// driver whose connections expose the wrapped one with Raw or Unwrap).
func InvalidateAll(ctx context.Context, db *sql.DB) error {
	return withConn(ctx, db, func(c *cdriver.Conn) error { return c.Invalidate(ctx, nil, true) })
}

func withConn(ctx context.Context, db *sql.DB, f func(*cdriver.Conn) error) error {
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	return conn.Raw(func(dc any) error {
		c := unwrapConn(dc)
		if c == nil {
			return ErrNotCacheops
		}
		return f(c)
	})
}

// unwrapConn finds cacheops' connection under the wrappers other libraries
// put around it (otelsql and others expose the wrapped one with Raw or
// Unwrap); nil: there is none.
func unwrapConn(dc any) *cdriver.Conn {
	for range 16 {
		switch w := dc.(type) {
		case *cdriver.Conn:
			return w
		case interface{ Raw() driver.Conn }:
			dc = w.Raw()
		case interface{ Unwrap() driver.Conn }:
			dc = w.Unwrap()
		default:
			return nil
		}
	}
	return nil
}
