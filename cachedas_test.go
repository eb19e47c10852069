package cacheops_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cacheops/cacheops"
)

type postSummary struct {
	Title    string
	Category int
	Tags     []string
}

// counted is a CachedAs function that reads the database and counts its
// runs.
func counted(e *env, runs *atomic.Int32, id int) func(context.Context) (postSummary, error) {
	return func(ctx context.Context) (postSummary, error) {
		runs.Add(1)
		var s postSummary
		err := e.direct.QueryRowContext(ctx, "SELECT title, category_id FROM post WHERE id = $1", id).Scan(&s.Title, &s.Category)
		s.Tags = []string{"a", "b"}
		return s, err
	}
}

// A CachedAs value is served until a write to a dependency, and kept by
// writes elsewhere — for each kind of dependency.
func TestCachedAs(t *testing.T) {
	e := newFixture(t)
	for _, tc := range []struct {
		name        string
		deps        cacheops.Deps
		invalidates string // a write that must invalidate it
		keeps       string // a write that must not
	}{
		{"query", cacheops.Deps{Queries: []cacheops.Query{{SQL: "SELECT title FROM post WHERE id = $1", Args: []any{1}}}},
			"UPDATE post SET title = title || '!' WHERE id = 1", "UPDATE post SET title = title || '!' WHERE id = 2"},
		{"table", cacheops.Deps{Tables: []string{"category"}},
			"UPDATE category SET title = title || '!' WHERE id = 5", "UPDATE post SET title = title || '!' WHERE id = 1"},
		{"row", cacheops.Deps{Rows: []cacheops.TableRow{{Table: "post", Row: cacheops.Row{"id": 1}}}},
			"UPDATE post SET visible = NOT visible WHERE id = 1", "UPDATE post SET visible = NOT visible WHERE id = 3"},
		{"several", cacheops.Deps{Tables: []string{"label"}, Rows: []cacheops.TableRow{{Table: "post", Row: cacheops.Row{"id": 1}}}},
			"DELETE FROM label WHERE id = 3", "UPDATE post SET visible = NOT visible WHERE id = 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var runs atomic.Int32
			get := func() postSummary {
				t.Helper()
				v, err := cacheops.CachedAs(e.ctx, e.db, "summary:"+tc.name, tc.deps, counted(e, &runs, 1))
				if err != nil {
					t.Fatal(err)
				}
				return v
			}
			first := get()
			if second := get(); second.Title != first.Title || len(second.Tags) != 2 || runs.Load() != 1 {
				t.Fatalf("not served from the cache: %+v then %+v, %d runs", first, second, runs.Load())
			}
			e.exec(tc.keeps)
			get()
			if runs.Load() != 1 {
				t.Fatalf("invalidated by an unrelated write: %s", tc.keeps)
			}
			e.exec(tc.invalidates)
			get()
			if runs.Load() != 2 {
				t.Fatalf("not invalidated by %s", tc.invalidates)
			}
			get()
			if runs.Load() != 2 {
				t.Fatal("not cached again")
			}
		})
	}
}

// The stale-fill guard: a write to a dependency while the function runs
// keeps its result out of the cache.
func TestCachedAsIsGuarded(t *testing.T) {
	e := newFixture(t)
	deps := cacheops.Deps{Rows: []cacheops.TableRow{{Table: "post", Row: cacheops.Row{"id": 1}}}}
	var runs atomic.Int32
	fn := func(ctx context.Context) (postSummary, error) {
		s, err := counted(e, &runs, 1)(ctx)
		if runs.Load() == 1 {
			e.exec("UPDATE post SET title = 'written while computing' WHERE id = 1")
		}
		return s, err
	}
	v, err := cacheops.CachedAs(e.ctx, e.db, "guarded", deps, fn)
	if err != nil || v.Title != "Cacheops" {
		t.Fatalf("%+v %v", v, err)
	}
	v, err = cacheops.CachedAs(e.ctx, e.db, "guarded", deps, fn)
	if err != nil || v.Title != "written while computing" || runs.Load() != 2 {
		t.Fatalf("the value computed before the write was served: %+v (%d runs)", v, runs.Load())
	}
	if s := e.cache.Stats(); s.GuardDrops == 0 {
		t.Fatalf("stats %+v", s)
	}
}

// Another process's write invalidates; concurrent callers run the function
// once; errors are returned and not cached; untrackable dependencies fail.
func TestCachedAsAcrossProcessesAndCallers(t *testing.T) {
	e := newFixture(t)
	deps := cacheops.Deps{Queries: []cacheops.Query{{SQL: "SELECT title FROM post WHERE category_id = $1", Args: []any{3}}}}
	var runs atomic.Int32
	slow := func(ctx context.Context) (int, error) {
		runs.Add(1)
		time.Sleep(100 * time.Millisecond)
		return 42, nil
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if v, err := cacheops.CachedAs(e.ctx, e.db, "slow", deps, slow); err != nil || v != 42 {
				t.Errorf("%v %v", v, err)
			}
		}()
	}
	wg.Wait()
	if runs.Load() != 1 {
		t.Fatalf("8 concurrent callers ran the function %d times", runs.Load())
	}
	other := e.otherProcess()
	mustExec(t, other.db, "UPDATE post SET title = 'moved' WHERE id = 2") // category 3
	cacheops.CachedAs(e.ctx, e.db, "slow", deps, slow)
	if runs.Load() != 2 {
		t.Fatal("another process's write did not invalidate the value")
	}

	boom := errors.New("boom")
	var failing atomic.Int32
	for i := 0; i < 2; i++ {
		_, err := cacheops.CachedAs(e.ctx, e.db, "failing", deps, func(context.Context) (int, error) { failing.Add(1); return 0, boom })
		if !errors.Is(err, boom) {
			t.Fatalf("got %v", err)
		}
	}
	if failing.Load() != 2 {
		t.Fatal("an error was cached")
	}
	for _, bad := range []cacheops.Deps{
		{Queries: []cacheops.Query{{SQL: "SELECT title FROM post WHERE created > now()"}}},
		{},
	} {
		if _, err := cacheops.CachedAs(e.ctx, e.db, "bad", bad, slow); !errors.Is(err, cacheops.ErrNotTracked) {
			t.Errorf("%+v: got %v, want ErrNotTracked", bad, err)
		}
	}
	if _, err := cacheops.CachedAs(e.ctx, e.db, "bad", cacheops.Deps{Tables: []string{"no_such_table"}}, slow); err == nil {
		t.Error("an unknown table was accepted")
	}
}

// InvalidateRows: the rows named go, with every entry that may hold them
// whatever their other columns held; other rows' entries stay.
func TestInvalidateRows(t *testing.T) {
	e := newFixture(t)
	byID := "SELECT title FROM post WHERE id = $1"
	byCategory := "SELECT id, title FROM post WHERE category_id = $1 ORDER BY id"
	e.cached(byID, 1)
	e.cached(byID, 2)
	e.cached(byCategory, 3)
	e.outOfBand("UPDATE post SET title = 'outside', category_id = 1 WHERE id = 2")
	if err := cacheops.InvalidateRows(e.ctx, e.db, "post", cacheops.Row{"id": 2}); err != nil {
		t.Fatal(err)
	}
	e.fresh(byID, 2)
	e.fresh(byCategory, 3)     // held row 2 under its old category
	e.hit("Cacheops", byID, 1) // another row's entry stays
	// A composite key, a column name as written unquoted, and errors.
	q := "SELECT label_id FROM brand_label WHERE brand_id = $1 ORDER BY 1"
	e.cached(q, 1)
	e.outOfBand("UPDATE brand_label SET label_id = 2 WHERE brand_id = 1 AND label_id = 3")
	if err := cacheops.InvalidateRows(e.ctx, e.db, "brand_label", cacheops.Row{"BRAND_ID": 1, "label_id": 3}); err != nil {
		t.Fatal(err)
	}
	e.fresh(q, 1)
	for _, bad := range []struct {
		table string
		row   cacheops.Row
	}{{"no_such_table", cacheops.Row{"id": 1}}, {"post", cacheops.Row{"no_such_column": 1}}} {
		if err := cacheops.InvalidateRows(e.ctx, e.db, bad.table, bad.row); err == nil {
			t.Errorf("%s %v: accepted", bad.table, bad.row)
		}
	}
}

// The same through a pgx pool: CachedAs resolves its dependencies on the
// pool, a native write invalidates, InvalidateRows works on the pool.
func TestCachedAsOnAPool(t *testing.T) {
	e := newFixture(t)
	pool, _ := e.pools()
	deps := cacheops.Deps{Rows: []cacheops.TableRow{{Table: "post", Row: cacheops.Row{"id": 1}}}}
	var runs atomic.Int32
	get := func() {
		t.Helper()
		if _, err := cacheops.CachedAs(e.ctx, pool, "pooled", deps, counted(e, &runs, 1)); err != nil {
			t.Fatal(err)
		}
	}
	get()
	get()
	if runs.Load() != 1 {
		t.Fatalf("%d runs", runs.Load())
	}
	if _, err := pool.Exec(e.ctx, "UPDATE post SET title = 'p' WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	get()
	if runs.Load() != 2 {
		t.Fatal("a write through the pool did not invalidate")
	}
	e.outOfBand("UPDATE post SET title = 'outside' WHERE id = 1")
	if err := pool.InvalidateRows(e.ctx, "post", cacheops.Row{"id": 1}); err != nil {
		t.Fatal(err)
	}
	get()
	if runs.Load() != 3 {
		t.Fatal("pool.InvalidateRows did not invalidate")
	}
}
