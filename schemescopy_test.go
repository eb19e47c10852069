package cacheops_test

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops"
)

// A writer keeps each table's schemes in memory and its invalidation checks
// the copy is current: a scheme another process registers after the copy was
// read (or a schemes set lost and made again) is seen by the next write,
// which reads the set again and invalidates the new scheme's entries too.
func TestWriterCopyOfSchemesIsChecked(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name   string
		change func(e *env)
	}{
		{"a scheme registered elsewhere", func(e *env) {}},
		{"the schemes set lost", func(e *env) {
			for _, k := range e.keys("*post*:schemes") {
				e.rdb.Del(e.ctx, k)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newFixture(t)
			other := e.otherProcess()
			// The writer learns post's schemes: only "id" is registered.
			e.cached("SELECT title FROM post WHERE id = $1", 2)
			e.exec("UPDATE post SET visible = NOT visible WHERE id = 1")
			c.change(e)
			// Another process reads by category: a scheme the writer's copy lacks.
			q := "SELECT id, title FROM post WHERE category_id = $1 ORDER BY id"
			other.cached(t, q, 3)
			// A write that changes that entry without assigning its column.
			e.exec("UPDATE post SET title = 'changed' WHERE id = 2")
			other.fresh(t, e, q, 3)
			e.fresh("SELECT title FROM post WHERE id = $1", 2)
		})
	}
}

// Once a writer holds a current copy of a table's schemes, its invalidation
// is one round trip to Redis after the statement; a copy gone out of date
// costs one more (the set is read again), and then it is one again.
func TestWriteIsOneRoundTrip(t *testing.T) {
	singleNodeOnly(t)
	t.Parallel()
	var trips atomic.Int64
	e := newFixture(t, func(o *cacheops.Options) {
		rdb := redis.NewClient(o.Redis.(*redis.Client).Options())
		rdb.AddHook(tripHook{&trips})
		t.Cleanup(func() { rdb.Close() })
		o.Redis = rdb
	})
	write := func() int64 {
		t.Helper()
		before := trips.Load()
		e.exec("UPDATE post SET visible = NOT visible WHERE id = 1")
		return trips.Load() - before
	}
	e.cached("SELECT title FROM post WHERE id = $1", 2)
	write() // learns post's schemes
	if n := write(); n != 1 {
		t.Fatalf("a write with a current copy of the schemes took %d round trips, want 1", n)
	}
	e.otherProcess().cached(t, "SELECT id FROM post WHERE category_id = $1", 3)
	if n := write(); n != 2 {
		t.Fatalf("a write with an old copy of the schemes took %d round trips, want 2", n)
	}
	if n := write(); n != 1 {
		t.Fatalf("a write after the copy was read again took %d round trips, want 1", n)
	}
}

// tripHook counts a client's round trips: a command or a pipeline each.
type tripHook struct{ n *atomic.Int64 }

func (h tripHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (h tripHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmd)
	}
}

func (h tripHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		h.n.Add(1)
		return next(ctx, cmds)
	}
}
