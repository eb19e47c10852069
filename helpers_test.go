package cacheops_test

import (
	"context"
	"database/sql"
	"fmt"
	"hash/fnv"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops"
	"github.com/cacheops/cacheops/internal/testenv"
)

// Integration tests talk to a real PostgreSQL and a real Redis. They never
// skip: `make test` starts both servers, and CI must fail without them.
func testDSN() string { return testenv.DSN() }

func testRedisURL() string { return testenv.RedisURL() }

// env is one test's world: its own schema (so tests run in parallel), its
// own key prefix, a cacheops *sql.DB and a direct one for out-of-band changes.
type env struct {
	t      testing.TB
	ctx    context.Context
	schema string
	cache  *cacheops.Cache
	db     *sql.DB // through cacheops
	direct *sql.DB // plain pgx, bypassing cacheops
	rdb    redis.UniversalClient
	prefix string
}

// onCluster reports whether the suite runs on Redis Cluster.
func onCluster() bool { return strings.Contains(testRedisURL(), "addr=") }

// singleNodeOnly skips a test of a single Redis server's failures (a proxy
// in front of it, a restart, its ACL users) when the suite runs on a
// cluster: the single-node run has it.
func singleNodeOnly(t *testing.T) {
	if onCluster() {
		t.Skip("a single-node failure test; the single-node run has it")
	}
}

// keys lists the keys matching pattern on every master.
func (e *env) keys(pattern string) []string {
	cacheops.SettleForTesting()
	var out []string
	var mu sync.Mutex
	each := func(ctx context.Context, c *redis.Client) error {
		ks, err := c.Keys(ctx, pattern).Result()
		mu.Lock()
		out = append(out, ks...)
		mu.Unlock()
		return err
	}
	var err error
	if cc, ok := e.rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(e.ctx, each)
	} else {
		err = each(e.ctx, e.rdb.(*redis.Client))
	}
	if err != nil {
		e.t.Fatal(err)
	}
	return out
}

// cachePrefix is the env's key prefix: another Cache with it shares entries
// and stamps with e.cache.
func (e *env) cachePrefix() string { return e.prefix }

var nonIdent = regexp.MustCompile(`[^a-z0-9_]+`)

func newEnv(t testing.TB, opts ...func(*cacheops.Options)) *env {
	t.Helper()
	schema := "t_" + nonIdent.ReplaceAllString(strings.ToLower(t.Name()), "_")
	if len(schema) > 60 {
		// Long names that share 60 characters must not share a schema.
		h := fnv.New32a()
		h.Write([]byte(schema))
		schema = fmt.Sprintf("%s_%08x", schema[:51], h.Sum32())
	}
	ctx := context.Background()
	admin, err := sql.Open("pgx", testDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if err := admin.PingContext(ctx); err != nil {
		t.Fatalf("PostgreSQL is not reachable at %s (run `make services`): %v", testDSN(), err)
	}
	mustExec(t, admin, fmt.Sprintf("DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", schema, schema))
	t.Cleanup(func() { admin.Exec(fmt.Sprintf("DROP SCHEMA IF EXISTS %s CASCADE", schema)) })

	// A cluster URL makes a cluster client: the suite runs on both.
	rdb, err := cacheops.ClientFromURLForTesting(testRedisURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rdb.Close() })
	if err := rdb.Ping(ctx).Err(); err != nil {
		t.Fatalf("Redis is not reachable at %s (run `make services`): %v", testRedisURL(), err)
	}
	// A generous Redis timeout: under -race with every test in parallel on two
	// cores a loaded Redis may take a while, and these tests are about
	// correctness; timeouts have tests of their own.
	o := cacheops.Options{Redis: rdb, Prefix: fmt.Sprintf("test:%s:%d:", schema, time.Now().UnixNano()), RedisTimeout: 5 * time.Second,
		Logger: slog.New(slog.DiscardHandler)} // tests that read the log set their own
	for _, f := range opts {
		f(&o)
	}
	cache, err := cacheops.New(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cache.Close() })
	dsn := withSearchPath(testDSN(), schema)
	db, err := cache.OpenDB(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	direct, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { direct.Close() })
	return &env{t: t, ctx: ctx, schema: schema, cache: cache, db: db, direct: direct, rdb: rdb, prefix: o.Prefix}
}

func withSearchPath(dsn, schema string) string {
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	return dsn + sep + "search_path=" + schema
}

func mustExec(t testing.TB, db interface {
	Exec(string, ...any) (sql.Result, error)
}, q string, args ...any) {
	t.Helper()
	if _, err := db.Exec(q, args...); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
}

// exec runs through cacheops.
func (e *env) exec(q string, args ...any) { e.t.Helper(); mustExec(e.t, e.db, q, args...) }

// outOfBand changes the database behind cacheops' back.
func (e *env) outOfBand(q string, args ...any) { e.t.Helper(); mustExec(e.t, e.direct, q, args...) }

// querier is what rows reads through.
type querier interface {
	Query(string, ...any) (*sql.Rows, error)
}

// rows reads a whole result as strings, for comparisons.
func rows(t testing.TB, q querier, query string, args ...any) string {
	t.Helper()
	out, err := readRows(q, query, args...)
	if err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return out
}

// readRows is rows, returning the error.
func readRows(q querier, query string, args ...any) (string, error) {
	rs, err := q.Query(query, args...)
	if err != nil {
		return "", err
	}
	defer rs.Close()
	cols, _ := rs.Columns()
	var out []string
	for rs.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return "", err
		}
		for i, v := range vals {
			if b, ok := v.([]byte); ok {
				vals[i] = string(b)
			}
		}
		out = append(out, fmt.Sprint(vals...))
	}
	return strings.Join(out, "|"), rs.Err()
}

func (e *env) read(q string, args ...any) string { e.t.Helper(); return rows(e.t, e.db, q, args...) }
func (e *env) direct_(q string, args ...any) string {
	e.t.Helper()
	return rows(e.t, e.direct, q, args...)
}

// cached reads q twice through cacheops, so that it is cached, and checks it
// equals the database.
func (e *env) cached(q string, args ...any) {
	e.t.Helper()
	first := e.read(q, args...)
	hits := e.cache.Stats().Hits
	second := e.read(q, args...)
	if e.cache.Stats().Hits != hits+1 {
		e.t.Fatalf("%s: second read was not a hit: %+v", q, e.cache.Stats())
	}
	if first != second || first != e.direct_(q, args...) {
		e.t.Fatalf("%s: cached %q, first %q, database %q", q, second, first, e.direct_(q, args...))
	}
}

// fresh: the read through cacheops equals the database.
func (e *env) fresh(q string, args ...any) {
	e.t.Helper()
	if got, want := e.read(q, args...), e.direct_(q, args...); got != want {
		e.t.Fatalf("stale read: %s = %q, database has %q", q, got, want)
	}
}

// kept: the read is still served from the cache, so it differs from the
// database after an out-of-band change.
func (e *env) kept(q string, args ...any) {
	e.t.Helper()
	hits := e.cache.Stats().Hits
	got, db := e.read(q, args...), e.direct_(q, args...)
	if e.cache.Stats().Hits != hits+1 || got == db {
		e.t.Fatalf("too coarse: %s was invalidated (read %q, database %q)", q, got, db)
	}
}

const fixture = `
CREATE TABLE category (id serial PRIMARY KEY, title text NOT NULL);
CREATE TABLE post (id serial PRIMARY KEY, title text NOT NULL,
  category_id int REFERENCES category(id) ON DELETE CASCADE, visible bool NOT NULL DEFAULT true);
CREATE TABLE extra (id serial PRIMARY KEY, post_id int NOT NULL REFERENCES post(id) ON DELETE CASCADE,
  tag int NOT NULL, to_tag int);
CREATE TABLE brand (id serial PRIMARY KEY, name text NOT NULL);
CREATE TABLE label (id serial PRIMARY KEY, text text NOT NULL);
CREATE TABLE brand_label (brand_id int REFERENCES brand(id) ON DELETE CASCADE,
  label_id int REFERENCES label(id) ON DELETE CASCADE, PRIMARY KEY (brand_id, label_id));
INSERT INTO category(title) VALUES ('Django'), ('Rails'), ('Perl'), ('Python'), ('Node.js');
INSERT INTO post(title, category_id, visible) VALUES
  ('Cacheops', 1, true), ('Implicit variable as pronoun', 3, true), ('Perl 6', 3, false);
INSERT INTO extra(post_id, tag, to_tag) VALUES (1, 5, 10), (2, 10, 5);
INSERT INTO brand(name) VALUES ('fast'), ('slow');
INSERT INTO label(text) VALUES ('fast'), ('slow'), ('furious');
INSERT INTO brand_label VALUES (1, 1), (1, 3), (2, 2), (2, 3);
`

func newFixture(t testing.TB, opts ...func(*cacheops.Options)) *env {
	e := newEnv(t, opts...)
	e.outOfBand(fixture)
	return e
}

// onConn adapts a *sql.Conn to the helpers.
type onConn struct{ c *sql.Conn }

func (o onConn) Query(q string, args ...any) (*sql.Rows, error) {
	return o.c.QueryContext(context.Background(), q, args...)
}

func (o onConn) Exec(q string, args ...any) (sql.Result, error) {
	return o.c.ExecContext(context.Background(), q, args...)
}

// hit: the read is answered from the cache and returns want.
func (e *env) hit(want, q string, args ...any) {
	e.t.Helper()
	hits := e.cache.Stats().Hits
	if got := e.read(q, args...); got != want || e.cache.Stats().Hits != hits+1 {
		e.t.Fatalf("%s: want a hit returning %q, got %q (hit: %v)", q, want, got, e.cache.Stats().Hits == hits+1)
	}
}
