package cacheops_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/cacheops/cacheops"
)

// countingConnector counts the queries of one SQL text that reach pgx.
type countingConnector struct {
	driver.Connector
	sql string
	n   *atomic.Int64
}

func (c countingConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return countingConn{Conn: conn.(*stdlib.Conn), sql: c.sql, n: c.n}, nil
}

type countingConn struct {
	*stdlib.Conn
	sql string
	n   *atomic.Int64
}

func (c countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	if q == c.sql {
		c.n.Add(1)
	}
	return c.Conn.QueryContext(ctx, q, args)
}

// Concurrent misses of one entry in one process run the query once; every
// reader gets the same rows.
func TestConcurrentMissesRunTheQueryOnce(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	q := "SELECT max(p.title), count(*) FROM post p, generate_series(1, 1000000) g WHERE p.category_id = 3"
	cfg, err := pgx.ParseConfig(withSearchPath(testDSN(), e.schema))
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	db := sql.OpenDB(e.cache.WrapConnector(countingConnector{Connector: stdlib.GetConnector(*cfg), sql: q, n: &n}))
	defer db.Close()
	const readers = 8
	db.SetMaxOpenConns(readers)
	var conns []*sql.Conn // open every connection first: the readers must start together
	for i := 0; i < readers; i++ {
		c, err := db.Conn(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	start := make(chan struct{})
	results := make([]string, readers)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = rows(t, onConn{c}, q)
		}()
	}
	close(start)
	wg.Wait()
	for _, c := range conns {
		c.Close()
	}
	if n.Load() != 1 {
		t.Fatalf("%d readers missing one entry ran the query %d times; stats %+v", readers, n.Load(), e.cache.Stats())
	}
	for _, r := range results {
		if r != results[0] || r != e.direct_(q) {
			t.Fatalf("readers got %q", results)
		}
	}
	if s := e.cache.Stats(); s.Shared+s.Hits != readers-1 {
		t.Fatalf("stats %+v", s)
	}
}

// twoProcesses runs one slow cacheable query at the same moment from two
// caches sharing a Redis prefix, as two processes would (nothing in memory
// is shared between them), and returns how many times it reached PostgreSQL.
func twoProcesses(t *testing.T, e *env, opts cacheops.Options, ctxFor func(context.Context) context.Context, inTx bool) int64 {
	t.Helper()
	q := "SELECT max(p.title), count(*) FROM post p, generate_series(1, 1000000) g WHERE p.category_id = 1"
	var n atomic.Int64
	var conns []*sql.Conn
	for i := 0; i < 2; i++ {
		o := opts
		// Generous, as in newFixture: a Redis call that times out on a
		// loaded machine falls back to PostgreSQL, which this counts.
		o.Redis, o.Prefix, o.RedisTimeout = e.rdb, e.cachePrefix(), 5*time.Second
		// The waiter's bound has a test of its own; here a slow query on a
		// loaded machine (the suite under MONITOR) must not outlast it.
		o.FillLockWait = 30 * time.Second
		cache, err := cacheops.New(o)
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := pgx.ParseConfig(withSearchPath(testDSN(), e.schema))
		if err != nil {
			t.Fatal(err)
		}
		db := sql.OpenDB(cache.WrapConnector(countingConnector{Connector: stdlib.GetConnector(*cfg), sql: q, n: &n}))
		t.Cleanup(func() { db.Close() })
		c, err := db.Conn(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		conns = append(conns, c)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	results := make([]string, 2)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			ctx := ctxFor(context.Background())
			if inTx {
				tx, err := c.BeginTx(ctx, nil)
				if err != nil {
					t.Error(err)
					return
				}
				defer tx.Rollback()
				results[i] = rows(t, txQuerier{ctx, tx}, q)
				return
			}
			results[i] = rows(t, ctxQuerier{ctx, c}, q)
		}()
	}
	close(start)
	wg.Wait()
	if results[0] != results[1] || results[0] != e.direct_(q) {
		t.Fatalf("results %q", results)
	}
	return n.Load()
}

type ctxQuerier struct {
	ctx context.Context
	c   *sql.Conn
}

func (q ctxQuerier) Query(s string, args ...any) (*sql.Rows, error) {
	return q.c.QueryContext(q.ctx, s, args...)
}

type txQuerier struct {
	ctx context.Context
	tx  *sql.Tx
}

func (q txQuerier) Query(s string, args ...any) (*sql.Rows, error) {
	return q.tx.QueryContext(q.ctx, s, args...)
}

// Across processes an optional lock lets one fill while the others wait for
// its entry: on by default, per table, or per call through the context;
// never inside a transaction.
func TestFillLockAcrossProcesses(t *testing.T) {
	t.Parallel()
	plain := func(ctx context.Context) context.Context { return ctx }
	cases := []struct {
		name  string
		opts  cacheops.Options
		ctx   func(context.Context) context.Context
		inTx  bool
		count int64
	}{
		{"off: both query", cacheops.Options{}, plain, false, 2},
		{"on by default", cacheops.Options{FillLock: true}, plain, false, 1},
		{"on for the table", cacheops.Options{FillLockTables: []string{"post"}}, plain, false, 1},
		{"on for another table", cacheops.Options{FillLockTables: []string{"category"}}, plain, false, 2},
		{"on through the context", cacheops.Options{}, func(ctx context.Context) context.Context { return cacheops.WithFillLock(ctx, true) }, false, 1},
		{"off through the context", cacheops.Options{FillLock: true}, func(ctx context.Context) context.Context { return cacheops.WithFillLock(ctx, false) }, false, 2},
		{"never inside a transaction", cacheops.Options{FillLock: true}, plain, true, 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newFixture(t)
			if got := twoProcesses(t, e, c.opts, c.ctx, c.inTx); got != c.count {
				t.Fatalf("the query reached PostgreSQL %d times, want %d", got, c.count)
			}
		})
	}
}

// A holder that never fills (it crashed, or is slow) delays the others by the
// wait bound at most; then they query PostgreSQL themselves, without error.
func TestFillLockWaitIsBounded(t *testing.T) {
	t.Parallel()
	e := newFixture(t, func(o *cacheops.Options) { o.FillLock = true; o.FillLockWait = 300 * time.Millisecond })
	q := "SELECT * FROM post WHERE id = 2"
	// Another process holds every lock of this prefix and never fills.
	rows(t, e.db, q) // learn the entry's key: the only entry of this prefix
	keys := e.keys(e.cachePrefix() + "{*}e:*")
	if len(keys) != 1 {
		t.Fatalf("entries %v", keys)
	}
	e.rdb.Del(e.ctx, keys[0])
	e.rdb.Set(e.ctx, keys[0]+":lock", "someone else", time.Minute)
	start := time.Now()
	if got, want := e.read(q), e.direct_(q); got != want {
		t.Fatalf("got %q", got)
	}
	if took := time.Since(start); took < 300*time.Millisecond || took > 3*time.Second {
		t.Fatalf("waited %v for a bound of 300ms", took)
	}
	if s := e.cache.Stats(); s.LockWaits != 1 || s.LockTimeouts != 1 {
		t.Fatalf("stats %+v", s)
	}
}
