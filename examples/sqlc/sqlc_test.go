package sqlc_test

import (
	"context"
	"testing"

	"github.com/cacheops/cacheops"
	"github.com/cacheops/cacheops/examples/internal/exampletest"
	"github.com/cacheops/cacheops/examples/sqlc"
	"github.com/cacheops/cacheops/examples/sqlc/db"
	"github.com/cacheops/cacheops/examples/sqlc/dbpgx"
)

func TestSqlc(t *testing.T) {
	sqlDB, err := sqlc.Open(exampletest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer sqlDB.Close()
	q := db.New(sqlDB)
	exampletest.Prove(t, exampletest.Stack{
		Read: func(ctx context.Context) (string, error) {
			p, err := q.GetPost(ctx, 1)
			return p.Title, err
		},
		Write: func(ctx context.Context, title string) error {
			return q.RenamePost(ctx, db.RenamePostParams{ID: 1, Title: title})
		},
		WriteInTx: func(ctx context.Context, title string, commit bool) error {
			return sqlc.RenameInTx(ctx, sqlDB, 1, title, commit)
		},
	})
}

func TestSqlcPgx(t *testing.T) {
	ctx := context.Background()
	pool, err := sqlc.OpenPool(ctx, exampletest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	q := dbpgx.New(pool) // the generated code, unchanged, over the cached pool
	exampletest.Prove(t, exampletest.Stack{
		Read: func(ctx context.Context) (string, error) {
			p, err := q.GetPost(ctx, 1)
			return p.Title, err
		},
		Write: func(ctx context.Context, title string) error {
			return q.RenamePost(ctx, dbpgx.RenamePostParams{ID: 1, Title: title})
		},
		WriteInTx: func(ctx context.Context, title string, commit bool) error {
			return sqlc.RenameInPgxTx(ctx, pool, 1, title, commit)
		},
	})

	// :copyfrom and :batchexec invalidate what they write.
	cache, err := cacheops.Default()
	if err != nil {
		t.Fatal(err)
	}
	count := func(want int64, hit bool) {
		t.Helper()
		before := cache.Stats().Hits
		n, err := q.CountPosts(ctx)
		if err != nil || n != want || (cache.Stats().Hits > before) != hit {
			t.Fatalf("count %d (%v), want %d, hit %v", n, err, want, hit)
		}
	}
	count(1, false)
	count(1, true)
	if n, err := q.AddPosts(ctx, []string{"copied", "copied too"}); err != nil || n != 2 {
		t.Fatalf("AddPosts: %d %v", n, err)
	}
	count(3, false)
	var batchErr error
	q.RenamePosts(ctx, []dbpgx.RenamePostsParams{{ID: 1, Title: "batched"}, {ID: 2, Title: "batched too"}}).Exec(func(_ int, err error) {
		if err != nil {
			batchErr = err
		}
	})
	if batchErr != nil {
		t.Fatal(batchErr)
	}
	p, err := q.GetPost(ctx, 1)
	if err != nil || p.Title != "batched" {
		t.Fatalf("after the batch: %q %v", p.Title, err)
	}
	if n := pool.Stat().AcquiredConns(); n != 0 {
		t.Fatalf("%d connections still acquired", n)
	}
}
