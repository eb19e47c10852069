package pgxpool_test

import (
	"context"
	"testing"

	"github.com/cacheops/cacheops/examples/internal/exampletest"
	"github.com/cacheops/cacheops/examples/pgxpool"
)

func TestPgxpool(t *testing.T) {
	ctx := context.Background()
	pool, err := pgxpool.Open(ctx, exampletest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	s := pgxpool.Service{Pool: pool}
	exampletest.Prove(t, exampletest.Stack{
		Read: func(ctx context.Context) (string, error) {
			p, err := s.Post(ctx, 1)
			return p.Title, err
		},
		Write: func(ctx context.Context, title string) error { return s.Rename(ctx, 1, title) },
		WriteInTx: func(ctx context.Context, title string, commit bool) error {
			return s.RenameInTx(ctx, 1, title, commit)
		},
	})
	if n := pool.Stat().AcquiredConns(); n != 0 {
		t.Fatalf("%d connections still acquired", n)
	}
}
