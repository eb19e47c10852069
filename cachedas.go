package cacheops

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/vmihailenco/msgpack/v5"

	cdriver "github.com/cacheops/cacheops/driver"
)

// Deps are what a CachedAs value depends on: it is invalidated by every
// write that would invalidate any of them, as a query's entry is.
type Deps struct {
	// Queries: the rows these queries read (a query the cache would not
	// cache cannot be a dependency: CachedAs fails with ErrNotTracked).
	Queries []Query
	// Tables: any row of these tables ("schema.table", or "table" through
	// the search_path).
	Tables []string
	// Rows: rows of a table known by some columns' values (a primary key):
	// the value goes when one of those rows is written.
	Rows []TableRow
}

// Query is a dependency by SQL and arguments.
type Query struct {
	SQL  string
	Args []any
}

// TableRow is a dependency on one row: Table's rows whose columns hold the
// values in Row.
type TableRow struct {
	Table string
	Row   Row
}

// Row names rows by column values: Row{"id": 7}, Row{"tenant": "a", "id": 7}.
type Row map[string]any

// ErrKept is returned by InvalidateRows when Redis did not take the
// invalidation: it is kept and sent again, and the process serves no hits
// until it lands.
var ErrKept = cdriver.ErrKept

// ErrNotTracked is returned by CachedAs for a dependency whose writes the
// cache cannot follow.
var ErrNotTracked = cdriver.ErrNotTracked

// CachedAs returns fn's result, cached in Redis under key (within db's
// database and the role, search_path and settings of the session that
// computes it) until a write invalidates one of deps — the same stamps,
// guard and single-flight as a query's entry: a write that lands while fn
// runs keeps its result out of the cache, and concurrent callers in the
// process share one run. The value is stored as msgpack: T's exported
// fields (or msgpack tags) are what comes back on a hit. Errors from fn are
// returned and never cached; Redis trouble only means fn runs.
//
// db is a *sql.DB opened through cacheops or a *Pool. fn may use it: no
// connection is held while it runs.
func CachedAs[T any, DB *sql.DB | *Pool](ctx context.Context, db DB, key string, deps Deps, fn func(context.Context) (T, error)) (T, error) {
	var zero T
	var plan *cdriver.CachedAsPlan
	var err error
	switch db := any(db).(type) {
	case *sql.DB:
		err = withConn(ctx, db, func(c *cdriver.Conn) error {
			plan, err = c.PlanCachedAs(ctx, key, depQueries(deps))
			return err
		})
	case *Pool:
		err = db.AcquireFunc(ctx, func(c *PoolConn) error {
			plan, err = c.n.PlanCachedAs(ctx, key, depQueries(deps))
			return err
		})
	}
	if err != nil {
		return zero, err
	}
	var got T
	decoded := false
	payload, err := plan.Do(ctx, func(ctx context.Context) ([]byte, error) {
		v, err := fn(ctx)
		if err != nil {
			return nil, err
		}
		got, decoded = v, true
		return msgpack.Marshal(v)
	}, func(b []byte) bool {
		// A hit: decoded once, here.
		decoded = msgpack.Unmarshal(b, &got) == nil
		return decoded
	})
	if err != nil {
		return zero, err
	}
	if decoded {
		return got, nil // fn's own value, or the hit's
	}
	var v T
	if err := msgpack.Unmarshal(payload, &v); err != nil {
		return fn(ctx) // checked by Do; a shared value of another shape
	}
	return v, nil
}

// depQueries turns every kind of dependency into the query whose entry a
// write of it would invalidate.
func depQueries(deps Deps) []cdriver.DepQuery {
	var out []cdriver.DepQuery
	named := func(args []any) []driver.NamedValue {
		nv := make([]driver.NamedValue, len(args))
		for i, a := range args {
			v, err := driver.DefaultParameterConverter.ConvertValue(a)
			if err != nil {
				v = a
			}
			nv[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
		}
		return nv
	}
	for _, q := range deps.Queries {
		out = append(out, cdriver.DepQuery{SQL: q.SQL, Args: named(q.Args)})
	}
	for _, t := range deps.Tables {
		out = append(out, cdriver.DepQuery{SQL: "SELECT 1 FROM " + t})
	}
	for _, r := range deps.Rows {
		cols := make([]string, 0, len(r.Row))
		for c := range r.Row {
			cols = append(cols, c)
		}
		sort.Strings(cols)
		var where []string
		var args []any
		for i, c := range cols {
			where = append(where, pgx.Identifier{c}.Sanitize()+" = $"+strconv.Itoa(i+1))
			args = append(args, r.Row[c])
		}
		sql := "SELECT 1 FROM " + r.Table
		if len(where) > 0 {
			sql += " WHERE " + strings.Join(where, " AND ")
		}
		out = append(out, cdriver.DepQuery{SQL: sql, Args: named(args)})
	}
	return out
}

// InvalidateRows invalidates every cached read (and CachedAs value) that
// may hold one of rows of table, for writes made outside cacheops:
// InvalidateRows(ctx, db, "post", cacheops.Row{"id": 7}). A row is known
// by the columns given (its primary key, say): every entry that may hold it
// goes, whatever its other columns held — its old values are not known.
// Names resolve as in SQL on one of db's connections. A Redis failure is
// returned as ErrKept: the invalidation is kept and sent again.
func InvalidateRows(ctx context.Context, db *sql.DB, table string, rows ...Row) error {
	return withConn(ctx, db, func(c *cdriver.Conn) error { return c.InvalidateRows(ctx, table, rowMaps(rows)) })
}

// rowMaps converts rows' values as database/sql would pass them.
func rowMaps(rows []Row) []map[string]any {
	maps := make([]map[string]any, len(rows))
	for i, r := range rows {
		m := make(map[string]any, len(r))
		for k, v := range r {
			if cv, err := driver.DefaultParameterConverter.ConvertValue(v); err == nil {
				v = cv
			}
			m[k] = v
		}
		maps[i] = m
	}
	return maps
}
