package cacheops_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
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
