//go:build cgo && !race

package pgparse

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	wasm "github.com/wasilibs/go-pgquery"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// corpus is SQL of every kind the analysis reads, with the fuzzer's
// findings (keys/testdata/fuzz/FuzzAnalyse) added.
func corpus(t *testing.T) []string {
	out := []string{
		"SELECT 1",
		"SELECT id, title FROM post WHERE id = $1 AND visible",
		"SELECT p.title, c.title FROM post p JOIN category c ON c.id = p.category_id WHERE c.id IN (1, 2, 3) ORDER BY p.id LIMIT 20",
		"WITH x AS (SELECT * FROM t WHERE a = ANY($1)) SELECT count(*), sum(b)::numeric(10,2) FROM x GROUP BY c HAVING count(*) > 1",
		"SELECT * FROM a UNION ALL SELECT * FROM b EXCEPT SELECT * FROM c",
		"UPDATE post SET title = $1 WHERE id = $2 RETURNING id, title",
		"INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y') ON CONFLICT (a) DO UPDATE SET b = excluded.b",
		"DELETE FROM t USING u WHERE t.id = u.id AND u.flag",
		"MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN UPDATE SET v = s.v WHEN NOT MATCHED THEN INSERT VALUES (s.id, s.v)",
		"TRUNCATE a, b CASCADE",
		"DO $$ BEGIN UPDATE t SET a = 1; COMMIT; END $$",
		"CALL p(1, 'x')",
		"CREATE TRIGGER tr AFTER INSERT ON t FOR EACH ROW EXECUTE FUNCTION f()",
		"ALTER TABLE t ENABLE ROW LEVEL SECURITY",
		"BEGIN ISOLATION LEVEL SERIALIZABLE; SAVEPOINT s; ROLLBACK TO s; COMMIT",
		"SET search_path = app, public; RESET ALL; DISCARD ALL",
		"SELECT '/* not a comment */', $$ -- nor this $$ /* but this */ -- and this\n",
		"SELECT * FROM t WHERE a = 'now'::timestamptz FOR UPDATE SKIP LOCKED",
		"SELECT jsonb_path_query(doc, '$.a[*] ? (@ > 1)') FROM docs TABLESAMPLE SYSTEM (10)",
		"SELEC broken",
	}
	files, _ := filepath.Glob("../../keys/testdata/fuzz/FuzzAnalyse/*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if s, ok := strings.CutPrefix(line, "string("); ok {
				if q, err := strconv.Unquote(strings.TrimSuffix(s, ")")); err == nil {
					out = append(out, q)
				}
			}
		}
	}
	return out
}

// withoutLocations clears the byte offsets in a tree: libpg_query added
// some (DefElem.arg_location, TransactionStmt.location) after the release
// go-pgquery compiled, and the analysis reads none.
func withoutLocations(m protoreflect.Message) {
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case strings.HasSuffix(string(fd.Name()), "location"):
			m.Clear(fd)
		case fd.IsList() && fd.Message() != nil:
			for i := 0; i < v.List().Len(); i++ {
				withoutLocations(v.List().Get(i).Message())
			}
		case fd.Message() != nil && !fd.IsMap():
			withoutLocations(v.Message())
		}
		return true
	})
}

// The two engines give the same trees (but for byte offsets the analysis
// does not read), tokens and errors: the analysis is the same whichever a
// build uses.
func TestEnginesAgree(t *testing.T) {
	for _, sql := range corpus(t) {
		c, cerr := pg_query.Parse(sql)
		w, werr := wasm.Parse(sql)
		if (cerr == nil) != (werr == nil) || (cerr != nil && cerr.Error() != werr.Error()) {
			t.Errorf("%q: errors differ: cgo %v, wasm %v", sql, cerr, werr)
			continue
		}
		if cerr == nil {
			withoutLocations(c.ProtoReflect())
			withoutLocations(w.ProtoReflect())
		}
		if cerr == nil && !proto.Equal(c, w) {
			t.Errorf("%q: trees differ", sql)
		}
		cs, _ := pg_query.Scan(sql)
		ws, _ := wasm.Scan(sql)
		if !proto.Equal(cs, ws) {
			t.Errorf("%q: tokens differ", sql)
		}
	}
}
