package cacheops

import (
	"context"
	"database/sql"
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

// InvalidateAll invalidates every cached read of db's database.
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
		c, ok := dc.(*cdriver.Conn)
		if !ok {
			return ErrNotCacheops
		}
		return f(c)
	})
}
