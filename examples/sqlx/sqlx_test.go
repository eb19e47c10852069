package sqlx_test

import (
	"context"
	"testing"

	"github.com/cacheops/cacheops/examples/internal/exampletest"
	"github.com/cacheops/cacheops/examples/sqlx"
)

func TestSqlx(t *testing.T) {
	db, err := sqlx.Connect(exampletest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	posts := sqlx.Posts{DB: db}
	exampletest.Prove(t, exampletest.Stack{
		Read: func(ctx context.Context) (string, error) {
			p, err := posts.Get(ctx, 1)
			return p.Title, err
		},
		Write: func(ctx context.Context, title string) error { return posts.Save(ctx, sqlx.Post{ID: 1, Title: title}) },
		WriteInTx: func(ctx context.Context, title string, commit bool) error {
			return posts.SaveInTx(ctx, sqlx.Post{ID: 1, Title: title}, commit)
		},
	})
}
