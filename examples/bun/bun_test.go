package bun_test

import (
	"context"
	"testing"

	"github.com/cacheops/cacheops/examples/bun"
	"github.com/cacheops/cacheops/examples/internal/exampletest"
)

func TestBun(t *testing.T) {
	db, err := bun.Open(exampletest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	posts := bun.Posts{DB: db}
	exampletest.Prove(t, exampletest.Stack{
		Read: func(ctx context.Context) (string, error) {
			p, err := posts.Get(ctx, 1)
			return p.Title, err
		},
		Write: func(ctx context.Context, title string) error { return posts.Rename(ctx, 1, title) },
		WriteInTx: func(ctx context.Context, title string, commit bool) error {
			return posts.RenameInTx(ctx, 1, title, commit)
		},
	})
}
