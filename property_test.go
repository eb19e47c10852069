package cacheops_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"pgregory.net/rapid"
)

// Random conjunctive queries and random single-row writes over a small table:
// after every write, every query read through cacheops equals the same query
// read directly. Small value domains make writes hit cached conjunctions
// often, so a missing invalidation shows up as a difference.
func TestPropertyCachedReadsMatchTheDatabase(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.outOfBand(`CREATE TABLE item (id int PRIMARY KEY, a int, b int, c text, flag bool NOT NULL DEFAULT false)`)
	run := 0
	rapid.Check(t, func(rt *rapid.T) {
		run++
		e.exec("TRUNCATE item") // through cacheops: the last run's entries must go
		e.exec("INSERT INTO item SELECT g, g % 3, g % 2, 'c' || (g % 3), g % 2 = 0 FROM generate_series(1, 8) g")
		value := func(col string) string {
			switch col {
			case "id":
				return fmt.Sprint(rapid.IntRange(1, 10).Draw(rt, "id"))
			case "a", "b":
				v := rapid.IntRange(0, 3).Draw(rt, col)
				if v == 3 {
					return "NULL"
				}
				return fmt.Sprint(v)
			case "c":
				return fmt.Sprintf("'c%d'", rapid.IntRange(0, 3).Draw(rt, "c"))
			}
			return fmt.Sprint(rapid.Bool().Draw(rt, "flag"))
		}
		cols := []string{"id", "a", "b", "c", "flag"}
		term := func() string {
			col := rapid.SampledFrom(cols).Draw(rt, "col")
			switch rapid.IntRange(0, 4).Draw(rt, "form") {
			case 0:
				v := value(col)
				if v == "NULL" {
					return col + " IS NULL"
				}
				return col + " = " + v
			case 1:
				return fmt.Sprintf("%s IN (%s, %s)", col, strings.Replace(value(col), "NULL", "0", 1), strings.Replace(value(col), "NULL", "1", 1))
			case 2:
				return fmt.Sprintf("(%s = %s OR %s)", col, strings.Replace(value(col), "NULL", "2", 1), "id = "+value("id"))
			case 3:
				return col + " IS NOT NULL" // dropped: any row
			}
			return "id > " + value("id") // dropped: any row
		}
		var queries []string
		for i := rapid.IntRange(1, 6).Draw(rt, "queries"); i > 0; i-- {
			var terms []string
			for j := rapid.IntRange(0, 3).Draw(rt, "terms"); j > 0; j-- {
				terms = append(terms, term())
			}
			q := "SELECT id, a, b, c, flag FROM item"
			if len(terms) > 0 {
				q += " WHERE " + strings.Join(terms, " AND ")
			}
			queries = append(queries, q+" ORDER BY id")
		}
		for _, q := range queries {
			e.read(q)
		}
		for i := rapid.IntRange(1, 8).Draw(rt, "writes"); i > 0; i-- {
			id := value("id")
			var w string
			switch rapid.IntRange(0, 4).Draw(rt, "write") {
			case 0:
				col := rapid.SampledFrom(cols[1:]).Draw(rt, "set")
				w = fmt.Sprintf("UPDATE item SET %s = %s WHERE id = %s", col, value(col), id)
			case 1:
				w = fmt.Sprintf("INSERT INTO item VALUES (%s, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET a = EXCLUDED.a",
					id, value("a"), value("b"), value("c"), value("flag"))
			case 2:
				w = "DELETE FROM item WHERE id = " + id
			case 3:
				w = fmt.Sprintf("UPDATE item SET b = %s WHERE a = %s", value("b"), strings.Replace(value("a"), "NULL", "0", 1))
			default:
				w = fmt.Sprintf("UPDATE item SET id = id + 100 WHERE id = %s", id)
			}
			if _, err := e.db.Exec(w); err != nil {
				var pgErr *pgconn.PgError
				if !errors.As(err, &pgErr) {
					rt.Fatalf("%s: %v", w, err)
				}
				// A key collision: PostgreSQL refused the write, nothing
				// changed, and the reads must still equal the database.
			}
			for _, q := range queries {
				if got, want := e.read(q), e.direct_(q); got != want {
					rt.Fatalf("run %d: after %s\n%s\ncached %q\ndatabase %q", run, w, q, got, want)
				}
			}
		}
	})
	if e.cache.Stats().Hits == 0 {
		t.Fatal("the property never hit the cache: it proves nothing")
	}
}
