// Package databasesql is cacheops through plain database/sql: open the
// registered driver instead of pgx's, and nothing else changes.
package databasesql

import (
	"context"
	"database/sql"

	_ "github.com/cacheops/cacheops" // registers "cacheops-postgres"
)

// Posts reads and writes posts through database/sql.
type Posts struct{ DB *sql.DB }

// Open opens a caching *sql.DB.
func Open(dsn string) (*sql.DB, error) { return sql.Open("cacheops-postgres", dsn) }

// Title reads a post's title: cached, and invalidated by any write to it.
func (p Posts) Title(ctx context.Context, id int64) (string, error) {
	var title string
	err := p.DB.QueryRowContext(ctx, "SELECT title FROM posts WHERE id = $1", id).Scan(&title)
	return title, err
}

// Rename sets a post's title.
func (p Posts) Rename(ctx context.Context, id int64, title string) error {
	_, err := p.DB.ExecContext(ctx, "UPDATE posts SET title = $1 WHERE id = $2", title, id)
	return err
}

// RenameInTx sets a post's title in a transaction: invalidated at commit,
// not at all at rollback.
func (p Posts) RenameInTx(ctx context.Context, id int64, title string, commit bool) error {
	tx, err := p.DB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "UPDATE posts SET title = $1 WHERE id = $2", title, id); err != nil {
		tx.Rollback()
		return err
	}
	if !commit {
		return tx.Rollback()
	}
	return tx.Commit()
}
