package cacheops_test

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Table names with braces, which Redis Cluster reads as hash tags, cache
// and invalidate like any other, granularly, alone and joined: the keys'
// slots come from a hash of the names, never from the names. On the cluster
// run a CROSSSLOT here would be a miss where a hit is asserted.
func TestTableNamesWithBraces(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	names := []string{"a{b}c", "{x}", "}{", "{}", "{{y}}", "plain"}
	for _, n := range names {
		id := pgx.Identifier{n}.Sanitize()
		e.outOfBand(fmt.Sprintf("CREATE TABLE %s (id int PRIMARY KEY, v text); INSERT INTO %[1]s VALUES (1, 'one'), (2, 'two')", id))
	}
	join := "SELECT count(*) FROM "
	for i, n := range names {
		if i > 0 {
			join += ", "
		}
		join += pgx.Identifier{n}.Sanitize()
	}
	for i, n := range names {
		id := pgx.Identifier{n}.Sanitize()
		one := fmt.Sprintf("SELECT v FROM %s WHERE id = $1", id)
		e.cached(one, 1)
		e.cached(one, 2)
		e.cached(join)
		e.exec(fmt.Sprintf("UPDATE %s SET v = $1 WHERE id = 1", id), fmt.Sprint("changed ", i))
		e.fresh(one, 1)
		e.outOfBand(fmt.Sprintf("UPDATE %s SET v = 'behind' WHERE id = 2", id))
		e.kept(one, 2) // row 1's write left row 2's entry alone
		e.exec(fmt.Sprintf("INSERT INTO %s VALUES (%d, 'new')", id, 10+i))
		e.fresh(join)
	}
}
