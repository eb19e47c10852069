// Package pgxpool is cacheops under a service written against pgx's own
// interface: wrap the *pgxpool.Pool once, and use the wrapper where the
// pool was used — Query, QueryRow, Exec, Begin, pgx.BeginFunc,
// pgx.CollectRows and friends all work as before.
package pgxpool

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cacheops/cacheops"
)

// Post is a row of posts.
type Post struct {
	ID    int64
	Title string
}

// Service reads and writes posts through a cached pool.
type Service struct{ Pool *cacheops.Pool }

// Open opens a pgx pool and wraps it with the cache the environment
// configures (CACHEOPS_REDIS, CACHEOPS_PREFIX): the same cache as the
// registered database/sql driver, so both share entries' invalidations.
func Open(ctx context.Context, dsn string) (*cacheops.Pool, error) {
	cache, err := cacheops.Default()
	if err != nil {
		return nil, err
	}
	pool, err := pgxpool.New(ctx, dsn)
	if err != nil {
		return nil, err
	}
	return cache.WrapPool(pool), nil
}

// Post reads a post: cached, and invalidated by any write to it.
func (s Service) Post(ctx context.Context, id int64) (Post, error) {
	rows, err := s.Pool.Query(ctx, "SELECT id, title FROM posts WHERE id = $1", id)
	if err != nil {
		return Post{}, err
	}
	return pgx.CollectExactlyOneRow(rows, pgx.RowToStructByName[Post])
}

// Rename sets a post's title.
func (s Service) Rename(ctx context.Context, id int64, title string) error {
	_, err := s.Pool.Exec(ctx, "UPDATE posts SET title = $1 WHERE id = $2", title, id)
	return err
}

var errRollback = errors.New("rolled back")

// RenameInTx sets a post's title in a transaction: invalidated at commit,
// not at all at rollback.
func (s Service) RenameInTx(ctx context.Context, id int64, title string, commit bool) error {
	err := pgx.BeginFunc(ctx, s.Pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "UPDATE posts SET title = $1 WHERE id = $2", title, id); err != nil {
			return err
		}
		if !commit {
			return errRollback
		}
		return nil
	})
	if errors.Is(err, errRollback) {
		return nil
	}
	return err
}
