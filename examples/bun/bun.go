// Package bun is cacheops through bun: a *sql.DB of the registered driver
// under bun's PostgreSQL dialect. bun inlines argument values into the SQL
// text, so each value is an entry (and a plan) of its own: reads still
// cache and invalidate granularly, with one analysis per distinct text.
package bun

import (
	"context"
	"database/sql"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/pgdialect"

	_ "github.com/cacheops/cacheops" // registers "cacheops-postgres"
)

// Post is a row of posts.
type Post struct {
	bun.BaseModel `bun:"table:posts"`
	ID            int64  `bun:"id,pk,autoincrement"`
	Title         string `bun:"title"`
}

// Open opens a caching *bun.DB.
func Open(dsn string) (*bun.DB, error) {
	sqldb, err := sql.Open("cacheops-postgres", dsn)
	if err != nil {
		return nil, err
	}
	return bun.NewDB(sqldb, pgdialect.New()), nil
}

// Posts reads and writes posts through bun.
type Posts struct{ DB *bun.DB }

// Get reads a post: cached.
func (p Posts) Get(ctx context.Context, id int64) (Post, error) {
	var post Post
	err := p.DB.NewSelect().Model(&post).Where("id = ?", id).Scan(ctx)
	return post, err
}

// Rename sets a post's title.
func (p Posts) Rename(ctx context.Context, id int64, title string) error {
	_, err := p.DB.NewUpdate().Model(&Post{ID: id, Title: title}).Column("title").WherePK().Exec(ctx)
	return err
}

// RenameInTx sets a post's title in a transaction.
func (p Posts) RenameInTx(ctx context.Context, id int64, title string, commit bool) error {
	tx, err := p.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.NewUpdate().Model(&Post{ID: id, Title: title}).Column("title").WherePK().Exec(ctx); err != nil {
		tx.Rollback()
		return err
	}
	if !commit {
		return tx.Rollback()
	}
	return tx.Commit()
}
