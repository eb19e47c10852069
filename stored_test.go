package cacheops_test

import (
	"strings"
	"testing"
)

// A value is keyed only as the column stores and compares it, and names
// resolve as PostgreSQL resolves them. Each case caches a read, writes
// through cacheops, and checks the read is fresh; without the fix the read
// is keyed by a value no write ever reports.
func TestKeysAreStoredValues(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("n", 70)
	runFreshCases(t, []freshCase{
		{name: "varchar cast truncates",
			read: "SELECT count(*) FROM label WHERE text = 'furious'::varchar(4)", write: "INSERT INTO label(text) VALUES ('furi')"},
		{name: "name keeps 63 bytes",
			setup: "CREATE TABLE tag (id int, n name); INSERT INTO tag VALUES (1, 'x')",
			read:  "SELECT count(*) FROM tag WHERE n = '" + long + "'", write: "INSERT INTO tag VALUES (2, '" + long[:63] + "')"},
		{name: "varchar(n) trims trailing spaces",
			setup: "CREATE TABLE code (id int PRIMARY KEY, c varchar(3))",
			read:  "SELECT count(*) FROM code WHERE c = 'ab '",
			write: "WITH i AS (INSERT INTO code(id, c) VALUES (1, 'ab   ') RETURNING 1) SELECT count(*) FROM i"},
		{name: "citext joined to text",
			setup: "CREATE EXTENSION IF NOT EXISTS citext; CREATE TABLE account (email citext); CREATE TABLE mail (to_addr text); INSERT INTO account VALUES ('foo@X')",
			read:  "SELECT count(*) FROM account a JOIN mail m ON m.to_addr = a.email WHERE a.email = 'Foo@x'",
			write: "INSERT INTO mail VALUES ('foo@X')"},
		{name: "column alias list",
			read:  "SELECT e.post_id FROM extra AS e(post_id, id) WHERE e.id = 2 ORDER BY 1",
			write: "INSERT INTO extra(post_id, tag) VALUES (2, 1)"},
	})
}

// Granularity survives where the value is certain: a column alias list keeps
// its terms under the right column.
func TestColumnAliasListsStayGranular(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	q := "SELECT e.post_id FROM extra AS e(post_id, id) WHERE e.id = 2 ORDER BY 1"
	e.cached(q)
	e.outOfBand("UPDATE extra SET id = 7 WHERE id = 2") // changes the result behind the cache
	e.exec("INSERT INTO extra(post_id, tag) VALUES (1, 1)")
	e.kept(q)
}
