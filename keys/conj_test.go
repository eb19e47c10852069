package keys

import (
	"database/sql/driver"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/cacheops/cacheops/catalog"
)

// render shows a plan's conjunctions instantiated with args, one relation per
// line, as "post: category_id=1 | id=2", "*" for any row.
func render(t *testing.T, sql string, args ...any) string {
	t.Helper()
	p := resolve(sql, publicSession)
	if !p.Cacheable {
		t.Fatalf("%s: not cacheable: %s", sql, p.Reason)
	}
	nv := make([]driver.NamedValue, len(args))
	for i, a := range args {
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	byRel := map[string][]string{}
	for _, c := range Instantiate(p.Conjs, nv, p.MaxInList) {
		rel := strings.Trim(c.Rel[strings.LastIndex(c.Rel, ".")+1:], `"`)
		var terms []string
		for i, col := range SchemeColumns(c.Scheme) {
			v := c.Values[i]
			if v == Null {
				v = "NULL"
			}
			terms = append(terms, col+"="+v)
		}
		s := strings.Join(terms, ",")
		if s == "" {
			s = "*"
		}
		byRel[rel] = append(byRel[rel], s)
	}
	var lines []string
	for rel, cs := range byRel {
		sort.Strings(cs)
		lines = append(lines, rel+": "+strings.Join(cs, " | "))
	}
	sort.Strings(lines)
	return strings.Join(lines, "; ")
}

func TestConjunctions(t *testing.T) {
	cases := []struct {
		sql  string
		args []any
		want string
	}{
		{"SELECT * FROM post WHERE id = $1", []any{int64(1)}, "post: id=1"},
		{"SELECT * FROM post WHERE id = $1", []any{"01"}, "post: id=1"},
		{"SELECT * FROM post WHERE category_id = 1", nil, "post: category_id=1"},
		{"SELECT * FROM post WHERE id IN (1, 2)", nil, "post: id=1 | id=2"},
		{"SELECT * FROM post WHERE id IN ($1, $2)", []any{3, "4"}, "post: id=3 | id=4"},
		{"SELECT count(*) FROM post WHERE visible", nil, "post: visible=t"},
		{"SELECT * FROM post WHERE visible = 'yes' AND category_id = '3'", nil, "post: category_id=3,visible=t"},
		{"SELECT count(*) FROM post", nil, "post: *"},
		{"SELECT * FROM post WHERE id > 1", nil, "post: *"},
		{"SELECT * FROM post WHERE NOT (id = 1)", nil, "post: *"},
		{"SELECT * FROM post WHERE id = 1 OR category_id = 3", nil, "post: category_id=3 | id=1"},
		{"SELECT * FROM post WHERE (id = 1 OR id = 2) AND category_id = 3", nil, "post: category_id=3,id=1 | category_id=3,id=2"},
		{"SELECT * FROM post WHERE id = 1 AND id = 2", nil, ""},
		{"SELECT * FROM post WHERE id = $1 AND id = $2", []any{1, 2}, ""},
		{"SELECT * FROM post WHERE id = $1 AND id = $2", []any{1, "1"}, "post: id=1"},
		{"SELECT * FROM post WHERE category_id IS NULL", nil, "post: category_id=NULL"},
		{"SELECT * FROM post WHERE id = ANY($1)", []any{[]int64{1, 2}}, "post: id=1 | id=2"},
		{"SELECT * FROM post WHERE id = ANY($1) AND visible", []any{[]string{"5"}}, "post: id=5,visible=t"},
		{"SELECT * FROM post WHERE id = 3.5", nil, "post: *"},
		{"SELECT * FROM post WHERE id = 3.0", nil, "post: id=3"},
		{"SELECT * FROM post WHERE score = 1", nil, "post: *"},
		{"SELECT * FROM post WHERE id = $1::int8", []any{7}, "post: id=7"},
		{"SELECT * FROM post WHERE id = $1::numeric", []any{7}, "post: *"},
		{"SELECT * FROM post WHERE lower(title) = 'x'", nil, "post: *"},
		{"SELECT * FROM post WHERE title = 'Perl 6' AND 1 = 1", nil, "post: title=Perl 6"},
		{"SELECT * FROM post WHERE id = $1", []any{nil}, "post: *"},
		// Joins copy terms through equalities.
		{"SELECT p.* FROM post p JOIN category c ON c.id = p.category_id WHERE c.title = 'Django'", nil,
			"category: title=Django; post: *"},
		{"SELECT p.* FROM post p JOIN category c ON c.id = p.category_id WHERE c.id = 1", nil,
			"category: id=1; post: category_id=1"},
		{"SELECT p.* FROM post p, category c WHERE c.id = p.category_id AND p.category_id = $1", []any{2},
			"category: id=2; post: category_id=2"},
		{"SELECT c.id, count(p.id) FROM category c LEFT JOIN post p ON p.category_id = c.id WHERE c.id = 1 GROUP BY c.id", nil,
			"category: id=1; post: category_id=1"},
		// ON of an outer join restricts only the nullable side.
		{"SELECT * FROM category c LEFT JOIN post p ON p.category_id = c.id AND c.id = 1", nil,
			"category: *; post: category_id=1"},
		{"SELECT * FROM category c LEFT JOIN post p ON p.category_id = c.id WHERE p.id IS NULL", nil, "category: *; post: *"},
		// Subqueries, set operations and WITH queries bring their own terms.
		{"SELECT * FROM post WHERE category_id IN (SELECT id FROM category WHERE title = 'Perl')", nil,
			"category: title=Perl; post: *"},
		{"SELECT id FROM post WHERE category_id = 1 UNION SELECT id FROM category WHERE title = 'Perl'", nil,
			"category: title=Perl; post: category_id=1"},
		{"WITH c AS (SELECT * FROM category WHERE id = 2) SELECT * FROM post p JOIN c ON c.id = p.category_id", nil,
			"category: id=2; post: *"},
		{"SELECT * FROM post p WHERE EXISTS (SELECT 1 FROM extra x WHERE x.post_id = p.id AND x.tag = 5)", nil,
			"extra: tag=5; post: *"},
		{"SELECT * FROM (SELECT * FROM post WHERE id = 1) s WHERE id = 2", nil, "post: id=1"},
		// Ambiguous or unknown columns are dropped.
		{"SELECT * FROM post p JOIN category c ON true WHERE id = 1", nil, "category: *; post: *"},
		{"SELECT * FROM post p JOIN extra x ON x.post_id = p.id WHERE tag = 5", nil, "extra: tag=5; post: *"},
		// Self join: both occurrences count.
		{"SELECT * FROM post a JOIN post b ON b.category_id = a.category_id WHERE a.id = 1", nil, "post: *"},
		// Views are read whole.
		{"SELECT * FROM post_view WHERE id = 1", nil, "category: *; post: *; post_view: *"},
	}
	for _, c := range cases {
		t.Run(c.sql+fmt.Sprint(c.args), func(t *testing.T) {
			if got := render(t, c.sql, c.args...); got != c.want {
				t.Fatalf("got  %q\nwant %q", got, c.want)
			}
		})
	}
}

// A written value longer than varchar(n) keeps n characters when its excess
// is spaces: as an argument it is dropped, never keyed as written.
func TestInstantiateDropsValuesLongerThanTheColumn(t *testing.T) {
	conj := []Conj{{Rel: "t", Terms: []Term{{Col: "c", Kind: catalog.TextKind, Param: 1, MaxLen: 3}}}}
	for arg, want := range map[string]string{"ab": "c", "abc": "c", "ab   ": "", "abcd": ""} {
		got := Instantiate(conj, []driver.NamedValue{{Ordinal: 1, Value: arg}}, 16)
		if len(got) != 1 || got[0].Scheme != want {
			t.Fatalf("%q: %+v, want scheme %q", arg, got, want)
		}
	}
}

// PostgreSQL reads 'now', 'today', 'tomorrow' and 'yesterday' among other
// fields, whatever punctuation surrounds them.
func TestRelativeTimeLiterals(t *testing.T) {
	for s, want := range map[string]bool{
		"now": true, " NOW ": true, "now()": true, "today 10:00": true, "tomorrow z": true,
		"yesterday allballs": true, "epoch": false, "2024-01-01": false, "nowhere": false, "knowledge": false,
		"infinity": false, "": false,
	} {
		if got := IsRelativeTimeLiteral(s); got != want {
			t.Errorf("%q: %v, want %v", s, got, want)
		}
	}
}
