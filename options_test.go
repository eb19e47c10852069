package cacheops_test

import (
	"testing"

	"github.com/jackc/pgx/v5"
)

// pgx's database/sql driver passes pgx's own options through: named
// arguments, an exec mode, result formats. They are not parameters: $1 is
// the first value after them, and the SQL PostgreSQL runs is the
// rewritten one.
func TestDatabaseSQLWithPgxOptions(t *testing.T) {
	e := newFixture(t)
	const named = "SELECT title FROM post WHERE id = @id"
	e.cached(named, pgx.NamedArgs{"id": 1})
	e.exec("UPDATE post SET title = @t WHERE id = @id", pgx.NamedArgs{"id": 1, "t": "named"})
	e.fresh(named, pgx.NamedArgs{"id": 1})
	e.cached(named, pgx.NamedArgs{"id": 2})
	e.outOfBand("UPDATE post SET title = 'behind its back' WHERE id = 2")
	e.exec("UPDATE post SET title = @t WHERE id = @id", pgx.NamedArgs{"id": 1, "t": "again"})
	e.kept(named, pgx.NamedArgs{"id": 2})

	// An exec mode in front: the entry is keyed by id 3, not by the mode.
	const q = "SELECT title FROM post WHERE id = $1"
	simple := pgx.QueryExecModeSimpleProtocol
	e.outOfBand("INSERT INTO post(id, title) VALUES ($1, 'mode row')", int(simple))
	e.cached(q, simple, 3)
	e.exec("UPDATE post SET title = 'moded' WHERE id = $1", simple, 3)
	e.fresh(q, simple, 3)
	e.cached(q, simple, int(simple)) // the row whose id equals the mode's value
	e.outOfBand("UPDATE post SET title = 'behind its back' WHERE id = $1", int(simple))
	e.exec("UPDATE post SET title = 'other' WHERE id = $1", simple, 3)
	e.kept(q, simple, int(simple))
}
