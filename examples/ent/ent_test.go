package ent_test

import (
	"context"
	"testing"

	"github.com/cacheops/cacheops/examples/ent"
	"github.com/cacheops/cacheops/examples/internal/exampletest"
)

func TestEnt(t *testing.T) {
	client, err := ent.Open(exampletest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	posts := ent.Posts{Client: client}
	exampletest.Prove(t, exampletest.Stack{
		Read:  func(ctx context.Context) (string, error) { return posts.Title(ctx, 1) },
		Write: func(ctx context.Context, title string) error { return posts.Rename(ctx, 1, title) },
		WriteInTx: func(ctx context.Context, title string, commit bool) error {
			return posts.RenameInTx(ctx, 1, title, commit)
		},
	})
}
