// Package sqlc is cacheops under sqlc's database/sql output: the generated
// code in ./db (from sqlc.yaml, schema.sql and query.sql; regenerate with
// `sqlc generate`, sqlc v1.31.1) runs unchanged over a *sql.DB of the
// registered driver.
package sqlc

import (
	"context"
	"database/sql"

	_ "github.com/cacheops/cacheops" // registers "cacheops-postgres"
	"github.com/cacheops/cacheops/examples/sqlc/db"
)

// Open opens a caching *sql.DB for the generated queries.
func Open(dsn string) (*sql.DB, error) { return sql.Open("cacheops-postgres", dsn) }

// RenameInTx renames a post through the generated queries in a transaction.
func RenameInTx(ctx context.Context, sqlDB *sql.DB, id int64, title string, commit bool) error {
	tx, err := sqlDB.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := db.New(sqlDB).WithTx(tx).RenamePost(ctx, db.RenamePostParams{ID: id, Title: title}); err != nil {
		tx.Rollback()
		return err
	}
	if !commit {
		return tx.Rollback()
	}
	return tx.Commit()
}
