package databasesql_test

import (
	"context"
	"testing"

	"github.com/cacheops/cacheops/examples/databasesql"
	"github.com/cacheops/cacheops/examples/internal/exampletest"
)

func TestDatabaseSQL(t *testing.T) {
	db, err := databasesql.Open(exampletest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	posts := databasesql.Posts{DB: db}
	exampletest.Prove(t, exampletest.Stack{
		Read:  func(ctx context.Context) (string, error) { return posts.Title(ctx, 1) },
		Write: func(ctx context.Context, title string) error { return posts.Rename(ctx, 1, title) },
		WriteInTx: func(ctx context.Context, title string, commit bool) error {
			return posts.RenameInTx(ctx, 1, title, commit)
		},
	})
}
