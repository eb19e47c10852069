// Package gorm is cacheops through GORM: gorm.io/driver/postgres opens the
// registered driver by name (DriverName). GORM's PreferSimpleProtocol is
// ignored once DriverName is set; cacheops needs neither protocol: it keys
// both.
package gorm

import (
	"context"

	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"

	_ "github.com/cacheops/cacheops" // registers "cacheops-postgres"
)

// Post is a row of posts.
type Post struct {
	ID    int64
	Title string
}

// Open opens a caching *gorm.DB.
func Open(dsn string) (*gorm.DB, error) {
	return gorm.Open(postgres.New(postgres.Config{DriverName: "cacheops-postgres", DSN: dsn}),
		&gorm.Config{Logger: logger.Discard})
}

// Posts reads and writes posts through GORM.
type Posts struct{ DB *gorm.DB }

// Get reads a post: cached.
func (p Posts) Get(ctx context.Context, id int64) (Post, error) {
	var post Post
	err := p.DB.WithContext(ctx).First(&post, id).Error
	return post, err
}

// Rename sets a post's title.
func (p Posts) Rename(ctx context.Context, id int64, title string) error {
	return p.DB.WithContext(ctx).Model(&Post{ID: id}).Update("title", title).Error
}

// RenameInTx sets a post's title in a GORM transaction; returning an error
// from it rolls back.
func (p Posts) RenameInTx(ctx context.Context, id int64, title string, commit bool) error {
	err := p.DB.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		if err := tx.Model(&Post{ID: id}).Update("title", title).Error; err != nil {
			return err
		}
		if !commit {
			return errRollback
		}
		return nil
	})
	if err == errRollback {
		return nil
	}
	return err
}

type rollback struct{}

func (rollback) Error() string { return "roll back" }

var errRollback error = rollback{}
