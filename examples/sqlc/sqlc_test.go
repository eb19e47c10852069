package sqlc_test

import (
	"context"
	"testing"

	"github.com/cacheops/cacheops/examples/internal/exampletest"
	"github.com/cacheops/cacheops/examples/sqlc"
	"github.com/cacheops/cacheops/examples/sqlc/db"
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
