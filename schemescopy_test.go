package cacheops_test

import "testing"

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
