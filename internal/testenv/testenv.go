// Package testenv gives the nested modules' tests (contrib/…) a cache on
// the real servers the suite uses: CACHEOPS_TEST_DATABASE and
// CACHEOPS_TEST_REDIS, in a schema and under a key prefix of the test's
// own, both removed when the test ends.
package testenv

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" driver
	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops"
)

// DSN is the test database's URL.
func DSN() string {
	if s := os.Getenv("CACHEOPS_TEST_DATABASE"); s != "" {
		return s
	}
	return "postgres://root@127.0.0.1:5432/test?sslmode=disable"
}

// RedisURL is the test Redis' URL.
func RedisURL() string {
	if s := os.Getenv("CACHEOPS_TEST_REDIS"); s != "" {
		return s
	}
	return "redis://127.0.0.1:6379/9"
}

// Schema creates a schema named after the test holding setup, dropped
// when the test ends, and returns its name and a DSN whose search_path is
// it.
func Schema(t testing.TB, setup string) (schema, dsn string) {
	t.Helper()
	schema = fmt.Sprintf("t_%s_%d", strings.ToLower(strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())), time.Now().UnixNano())
	if len(schema) > 60 {
		schema = schema[len(schema)-60:]
	}
	admin, err := sql.Open("pgx", DSN())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
	})
	u, err := url.Parse(DSN())
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	inSchema, err := sql.Open("pgx", u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer inSchema.Close()
	if _, err := inSchema.Exec(setup); err != nil {
		t.Fatal(err)
	}
	return schema, u.String()
}

// Prefix is a key prefix for the test's schema; its keys are deleted when
// the test ends.
func Prefix(t testing.TB, schema string) string {
	prefix := "test:" + schema + ":"
	t.Cleanup(func() {
		ropts, err := redis.ParseURL(RedisURL())
		if err != nil {
			return
		}
		rdb := redis.NewClient(ropts)
		defer rdb.Close()
		if keys, _ := rdb.Keys(context.Background(), prefix+"*").Result(); len(keys) > 0 {
			rdb.Del(context.Background(), keys...)
		}
	})
	return prefix
}

// Cache returns a cache built from opts (Redis and prefix set here) and a
// database through it whose search_path is a new schema holding setup.
func Cache(t testing.TB, opts cacheops.Options, setup string) (*cacheops.Cache, *sql.DB) {
	t.Helper()
	schema, dsn := Schema(t, setup)
	opts.RedisURL, opts.Prefix = RedisURL(), Prefix(t, schema)
	return Open(t, opts, dsn)
}

// Open builds a cache from opts and opens dsn through it; both close when
// the test ends.
func Open(t testing.TB, opts cacheops.Options, dsn string) (*cacheops.Cache, *sql.DB) {
	t.Helper()
	cache, err := cacheops.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	db, err := cache.OpenDB(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		cache.Close()
	})
	return cache, db
}
