// Package ent is cacheops through ent: open a *sql.DB of the registered
// driver and give it to ent as its driver (entsql.OpenDB). ent's generated
// client is in ./entdb, from ./entdb/schema.
package ent

import (
	"context"
	"database/sql"

	"entgo.io/ent/dialect"
	entsql "entgo.io/ent/dialect/sql"

	_ "github.com/cacheops/cacheops" // registers "cacheops-postgres"
	"github.com/cacheops/cacheops/examples/ent/entdb"
)

// Open opens a caching ent client.
func Open(dsn string) (*entdb.Client, error) {
	db, err := sql.Open("cacheops-postgres", dsn)
	if err != nil {
		return nil, err
	}
	return entdb.NewClient(entdb.Driver(entsql.OpenDB(dialect.Postgres, db))), nil
}

// Posts reads and writes posts through ent.
type Posts struct{ Client *entdb.Client }

// Title reads a post's title: cached.
func (p Posts) Title(ctx context.Context, id int64) (string, error) {
	post, err := p.Client.Post.Get(ctx, id)
	if err != nil {
		return "", err
	}
	return post.Title, nil
}

// Rename sets a post's title.
func (p Posts) Rename(ctx context.Context, id int64, title string) error {
	return p.Client.Post.UpdateOneID(id).SetTitle(title).Exec(ctx)
}

// RenameInTx sets a post's title in an ent transaction.
func (p Posts) RenameInTx(ctx context.Context, id int64, title string, commit bool) error {
	tx, err := p.Client.Tx(ctx)
	if err != nil {
		return err
	}
	if err := tx.Post.UpdateOneID(id).SetTitle(title).Exec(ctx); err != nil {
		tx.Rollback()
		return err
	}
	if !commit {
		return tx.Rollback()
	}
	return tx.Commit()
}
