package cacheops_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/jmoiron/sqlx"

	"github.com/cacheops/cacheops"
)

type postRow struct {
	ID         int    `db:"id"`
	Title      string `db:"title"`
	CategoryID *int   `db:"category_id"`
	Visible    bool   `db:"visible"`
}

// The registered driver works with sqlx: Connect, Select, Get, In + Rebind.
func TestSqlxThroughTheRegisteredDriver(t *testing.T) {
	e := newFixture(t)
	// The registered driver is configured from the environment.
	t.Setenv("CACHEOPS_REDIS", testRedisURL())
	t.Setenv("CACHEOPS_PREFIX", fmt.Sprintf("test:sqlx:%d:", time.Now().UnixNano()))
	db, err := sqlx.Connect(cacheops.DriverName, withSearchPath(testDSN(), e.schema))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Rebind("SELECT ?") != "SELECT $1" {
		t.Fatalf("bindvar: %s", db.Rebind("SELECT ?"))
	}
	def, err := cacheops.Default()
	if err != nil {
		t.Fatal(err)
	}
	var posts []postRow
	for i := 0; i < 2; i++ {
		posts = nil
		if err := db.Select(&posts, "SELECT * FROM post WHERE category_id = $1 ORDER BY id", 3); err != nil {
			t.Fatal(err)
		}
	}
	if len(posts) != 2 || posts[0].Title != "Implicit variable as pronoun" || *posts[1].CategoryID != 3 {
		t.Fatalf("%+v", posts)
	}
	var p postRow
	if err := db.Get(&p, "SELECT * FROM post WHERE id = $1", 3); err != nil || p.Visible || p.Title != "Perl 6" {
		t.Fatalf("%+v %v", p, err)
	}
	q, args, err := sqlx.In("SELECT id FROM post WHERE id IN (?) ORDER BY id", []int{1, 3})
	if err != nil {
		t.Fatal(err)
	}
	var ids []int
	hits := def.Stats().Hits
	for i := 0; i < 2; i++ {
		ids = nil
		if err := db.Select(&ids, db.Rebind(q), args...); err != nil {
			t.Fatal(err)
		}
	}
	if len(ids) != 2 || ids[1] != 3 || def.Stats().Hits != hits+1 {
		t.Fatalf("%v, hits %d → %d", ids, hits, def.Stats().Hits)
	}
	db.MustExec("UPDATE post SET title = 'sqlx' WHERE id = 3")
	if err := db.Get(&p, "SELECT * FROM post WHERE id = $1", 3); err != nil || p.Title != "sqlx" {
		t.Fatalf("stale after a write: %+v %v", p, err)
	}
}
