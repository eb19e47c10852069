// Package exampletest gives each example a database schema of its own and
// proves the same behaviour through every stack.
package exampletest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"

	"github.com/cacheops/cacheops"
)

// The registered driver reads its Redis and key prefix from the
// environment: the tests' Redis, and a prefix of this run's own.
func init() {
	if os.Getenv("CACHEOPS_REDIS") == "" {
		url := os.Getenv("CACHEOPS_TEST_REDIS")
		if url == "" {
			url = "redis://127.0.0.1:6379/9"
		}
		os.Setenv("CACHEOPS_REDIS", url)
	}
	os.Setenv("CACHEOPS_PREFIX", fmt.Sprintf("examples:%d:", time.Now().UnixNano()))
}

func baseDSN() string {
	if s := os.Getenv("CACHEOPS_TEST_DATABASE"); s != "" {
		return s
	}
	return "postgres://root@127.0.0.1:5432/test?sslmode=disable"
}

// DSN creates a schema of the test's own holding a post table with one
// row (id 1, title "first"), dropped when the test ends, and returns a DSN
// whose search_path is that schema.
func DSN(t testing.TB) string {
	t.Helper()
	schema := strings.ToLower(fmt.Sprintf("ex_%s_%d", strings.NewReplacer("/", "_").Replace(t.Name()), time.Now().UnixNano()%1e9))
	admin, err := sql.Open("pgx", baseDSN())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { admin.Close() })
	if _, err := admin.Exec(fmt.Sprintf(`CREATE SCHEMA %[1]s;
		CREATE TABLE %[1]s.posts (id bigserial PRIMARY KEY, title text NOT NULL);
		INSERT INTO %[1]s.posts (title) VALUES ('first')`, schema)); err != nil {
		t.Fatalf("PostgreSQL at %s (run `make services`): %v", baseDSN(), err)
	}
	t.Cleanup(func() { admin.Exec("DROP SCHEMA " + schema + " CASCADE") })
	sep := "?"
	if strings.Contains(baseDSN(), "?") {
		sep = "&"
	}
	return baseDSN() + sep + "search_path=" + schema
}

// Stack is what an example does with post 1 through its own stack.
type Stack struct {
	// Read returns post 1's title.
	Read func(ctx context.Context) (string, error)
	// Write sets post 1's title.
	Write func(ctx context.Context, title string) error
	// WriteInTx sets post 1's title in a transaction, committed or rolled
	// back.
	WriteInTx func(ctx context.Context, title string, commit bool) error
}

// Prove checks, through s: a second read is a hit; a write invalidates it;
// a transaction invalidates at commit and not at rollback.
func Prove(t *testing.T, s Stack) {
	t.Helper()
	ctx := context.Background()
	cache, err := cacheops.Default()
	if err != nil {
		t.Fatal(err)
	}
	read := func(want string, hit bool) {
		t.Helper()
		before := cache.Stats().Hits
		got, err := s.Read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Fatalf("read %q, want %q", got, want)
		}
		if isHit := cache.Stats().Hits > before; isHit != hit {
			t.Fatalf("read %q: hit %v, want %v (stats %+v)", got, isHit, hit, cache.Stats())
		}
	}
	// The test's table was created moments ago: a catalog read before it
	// (another test's) learns of it at its next reload, at most a second
	// later; until then its reads pass through.
	for deadline := time.Now().Add(3 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		before := cache.Stats().Hits
		if _, err := s.Read(ctx); err != nil {
			t.Fatal(err)
		}
		if cache.Stats().Hits > before {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no read was a hit: %+v", cache.Stats())
		}
	}
	read("first", true)
	if err := s.Write(ctx, "second"); err != nil {
		t.Fatal(err)
	}
	read("second", false)
	read("second", true)
	if err := s.WriteInTx(ctx, "rolled back", false); err != nil {
		t.Fatal(err)
	}
	read("second", true) // a rollback invalidates nothing
	if err := s.WriteInTx(ctx, "committed", true); err != nil {
		t.Fatal(err)
	}
	read("committed", false)
	read("committed", true)
}
