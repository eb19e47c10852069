// Package sqlx is cacheops through sqlx: sqlx knows the driver name's
// bindvars ($1), so Connect, Get, Select and NamedExec work as with pgx.
package sqlx

import (
	"context"

	"github.com/jmoiron/sqlx"

	_ "github.com/cacheops/cacheops" // registers "cacheops-postgres"
)

// Post is a row of posts.
type Post struct {
	ID    int64  `db:"id"`
	Title string `db:"title"`
}

// Posts reads and writes posts through sqlx.
type Posts struct{ DB *sqlx.DB }

// Connect opens a caching *sqlx.DB.
func Connect(dsn string) (*sqlx.DB, error) { return sqlx.Connect("cacheops-postgres", dsn) }

// Get reads a post: cached.
func (p Posts) Get(ctx context.Context, id int64) (Post, error) {
	var post Post
	err := p.DB.GetContext(ctx, &post, "SELECT id, title FROM posts WHERE id = $1", id)
	return post, err
}

// Save writes a post by name.
func (p Posts) Save(ctx context.Context, post Post) error {
	_, err := p.DB.NamedExecContext(ctx, "UPDATE posts SET title = :title WHERE id = :id", post)
	return err
}

// SaveInTx writes a post in a transaction.
func (p Posts) SaveInTx(ctx context.Context, post Post, commit bool) error {
	tx, err := p.DB.BeginTxx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.NamedExecContext(ctx, "UPDATE posts SET title = :title WHERE id = :id", post); err != nil {
		tx.Rollback()
		return err
	}
	if !commit {
		return tx.Rollback()
	}
	return tx.Commit()
}
