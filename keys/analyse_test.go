package keys

import (
	"reflect"
	"sort"
	"testing"
)

func TestClassification(t *testing.T) {
	cases := []struct {
		sql     string
		kind    Kind
		noCache bool
		reads   []RelRef
		writes  []RelRef
		global  bool
		txn     TxnOp
		iso     string
		chain   bool
	}{
		{sql: "SELECT * FROM post WHERE id = $1", kind: KindRead, reads: []RelRef{{"", "post"}}},
		{sql: "SELECT p.* FROM public.post p JOIN category c ON c.id = p.category_id", kind: KindRead,
			reads: []RelRef{{"public", "post"}, {"", "category"}}},
		{sql: `SELECT * FROM "Post" WHERE id IN (SELECT post_id FROM extra)`, kind: KindRead,
			reads: []RelRef{{"", "Post"}, {"", "extra"}}},
		{sql: "SELECT 1", kind: KindRead},
		{sql: "SELECT * FROM post FOR UPDATE", kind: KindRead, noCache: true, reads: []RelRef{{"", "post"}}},
		{sql: "SELECT * FROM post WHERE id IN (SELECT 1 FOR SHARE)", kind: KindRead, noCache: true, reads: []RelRef{{"", "post"}}},
		{sql: "SELECT current_timestamp", kind: KindRead, noCache: true},
		{sql: "SELECT * FROM post WHERE created > 'today'", kind: KindRead, noCache: true, reads: []RelRef{{"", "post"}}},
		{sql: "SELECT * FROM post TABLESAMPLE SYSTEM (10)", kind: KindRead, noCache: true, reads: []RelRef{{"", "post"}}},
		{sql: "SELECT * FROM pg_temp.scratch", kind: KindRead, noCache: true, reads: []RelRef{{"pg_temp", "scratch"}}},
		{sql: "SELECT * INTO copy FROM post", kind: KindDDL, global: true},
		{sql: "SELECT * INTO TEMP copy FROM post", kind: KindDDL},
		{sql: "WITH moved AS (DELETE FROM post WHERE id = 1 RETURNING *) SELECT * FROM moved", kind: KindWrite,
			reads: []RelRef{{"", "moved"}, {"", "post"}}, writes: []RelRef{{"", "post"}}},
		{sql: "INSERT INTO post(title) VALUES ('x') RETURNING id", kind: KindWrite, reads: []RelRef{{"", "post"}}, writes: []RelRef{{"", "post"}}},
		{sql: "UPDATE post SET title = 'x' FROM category c WHERE c.id = post.category_id", kind: KindWrite,
			reads: []RelRef{{"", "post"}, {"", "category"}}, writes: []RelRef{{"", "post"}}},
		{sql: "DELETE FROM s.post USING extra WHERE extra.post_id = post.id", kind: KindWrite,
			reads: []RelRef{{"s", "post"}, {"", "extra"}}, writes: []RelRef{{"s", "post"}}},
		{sql: "MERGE INTO post p USING category c ON p.category_id = c.id WHEN MATCHED THEN DELETE", kind: KindWrite,
			reads: []RelRef{{"", "post"}, {"", "category"}}, writes: []RelRef{{"", "post"}}},
		{sql: "TRUNCATE post, extra", kind: KindWrite, writes: []RelRef{{"", "post"}, {"", "extra"}}},
		{sql: "COPY post FROM '/tmp/x.csv'", kind: KindWrite, writes: []RelRef{{"", "post"}}},
		{sql: "COPY post TO STDOUT", kind: KindPassThrough, noCache: true},
		{sql: "REFRESH MATERIALIZED VIEW mv", kind: KindWrite, writes: []RelRef{{"", "mv"}}},
		{sql: "EXPLAIN SELECT * FROM post", kind: KindPassThrough, noCache: true},
		{sql: "EXPLAIN ANALYZE DELETE FROM post", kind: KindWrite, reads: []RelRef{{"", "post"}}, writes: []RelRef{{"", "post"}}},
		{sql: "EXPLAIN (ANALYZE) SELECT * FROM post", kind: KindPassThrough, noCache: true, reads: []RelRef{{"", "post"}}},
		{sql: "BEGIN", kind: KindTxn, txn: TxnBegin},
		{sql: "START TRANSACTION ISOLATION LEVEL REPEATABLE READ", kind: KindTxn, txn: TxnBegin, iso: "repeatable read"},
		{sql: "BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY", kind: KindTxn, txn: TxnBegin, iso: "serializable"},
		{sql: "COMMIT", kind: KindTxn, txn: TxnCommit},
		{sql: "END", kind: KindTxn, txn: TxnCommit},
		{sql: "COMMIT AND CHAIN", kind: KindTxn, txn: TxnCommit, chain: true},
		{sql: "ROLLBACK AND CHAIN", kind: KindTxn, txn: TxnRollback, chain: true},
		{sql: "ROLLBACK", kind: KindTxn, txn: TxnRollback},
		{sql: "ABORT", kind: KindTxn, txn: TxnRollback},
		{sql: "SAVEPOINT a", kind: KindTxn, txn: TxnSavepoint},
		{sql: "ROLLBACK TO SAVEPOINT a", kind: KindTxn, txn: TxnRollbackTo},
		{sql: "RELEASE a", kind: KindTxn, txn: TxnRelease},
		{sql: "PREPARE TRANSACTION 'x'", kind: KindTxn, txn: TxnPrepare},
		{sql: "COMMIT PREPARED 'x'", kind: KindTxn, txn: TxnCommitPrepared, global: true},
		{sql: "SET search_path = a, b", kind: KindSession},
		{sql: "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", kind: KindSession, iso: "repeatable read"},
		{sql: "RESET ALL", kind: KindSession},
		{sql: "DISCARD ALL", kind: KindSession},
		{sql: "SHOW search_path", kind: KindPassThrough, noCache: true},
		{sql: "CALL do_things()", kind: KindUnknown, global: true},
		{sql: "DO $$BEGIN END$$", kind: KindUnknown, global: true},
		{sql: "EXECUTE stmt(1)", kind: KindUnknown, global: true},
		{sql: "CREATE TABLE t (id int)", kind: KindDDL, global: true},
		{sql: "CREATE TEMP TABLE t (id int)", kind: KindDDL},
		{sql: "CREATE INDEX ON post (title)", kind: KindDDL},
		{sql: "ALTER TABLE post ADD COLUMN x int", kind: KindDDL, writes: []RelRef{{"", "post"}}, global: true},
		{sql: "DROP TABLE post, s.extra", kind: KindDDL, writes: []RelRef{{"", "post"}, {"s", "extra"}}, global: true},
		{sql: "DROP TABLE post CASCADE", kind: KindDDL, writes: []RelRef{{"", "post"}}, global: true},
		{sql: "CREATE TEMP SEQUENCE s", kind: KindDDL},
		{sql: "SET CONSTRAINTS ALL DEFERRED", kind: KindSession},
		{sql: "CREATE TRIGGER t AFTER INSERT ON post FOR EACH ROW EXECUTE FUNCTION f()", kind: KindDDL, writes: []RelRef{{"", "post"}}, global: true},
		{sql: "COPY post FROM STDIN WHERE f(id)", kind: KindWrite, writes: []RelRef{{"", "post"}}},
		{sql: "GRANT SELECT ON post TO bob", kind: KindDDL, global: true},
		{sql: "CREATE FUNCTION f() RETURNS int LANGUAGE sql AS 'select 1'", kind: KindDDL, global: true},
	}
	for _, c := range cases {
		t.Run(c.sql, func(t *testing.T) {
			a := Analyse(c.sql)
			if a.ParseErr != nil {
				t.Fatal(a.ParseErr)
			}
			s := a.Single()
			if s == nil {
				t.Fatalf("%d statements", len(a.Stmts))
			}
			if s.Kind != c.kind || (s.NoCache != "") != c.noCache || s.Global != c.global || s.Txn != c.txn || s.Isolation != c.iso || s.Chain != c.chain {
				t.Fatalf("got %+v", *s)
			}
			// The walk's order is protobuf reflection's, which is not fixed.
			sortRels(s.Reads)
			sortRels(c.reads)
			sortRels(s.Writes)
			sortRels(c.writes)
			if !reflect.DeepEqual(s.Reads, c.reads) && !(len(s.Reads) == 0 && len(c.reads) == 0) {
				t.Fatalf("reads %v, want %v", s.Reads, c.reads)
			}
			if !reflect.DeepEqual(s.Writes, c.writes) && !(len(s.Writes) == 0 && len(c.writes) == 0) {
				t.Fatalf("writes %v, want %v", s.Writes, c.writes)
			}
		})
	}
}

func sortRels(rs []RelRef) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].Schema+"."+rs[i].Name < rs[j].Schema+"."+rs[j].Name })
}

func TestFunctionsAreCollected(t *testing.T) {
	a := Analyse("SELECT lower(title), pg_catalog.now(), count(*) FROM post WHERE x = myschema.f(1) GROUP BY 1")
	want := []FuncRef{{"", "lower"}, {"pg_catalog", "now"}, {"", "count"}, {"myschema", "f"}}
	got := a.Single().Funcs
	if len(got) != len(want) {
		t.Fatalf("funcs %v", got)
	}
	for _, w := range want {
		found := false
		for _, g := range got {
			found = found || g == w
		}
		if !found {
			t.Fatalf("missing %v in %v", w, got)
		}
	}
}

func TestMultiStatementAndParseErrors(t *testing.T) {
	a := Analyse("BEGIN; UPDATE post SET title = 'x'; COMMIT")
	if len(a.Stmts) != 3 || a.Single() != nil {
		t.Fatalf("%+v", a)
	}
	if a := Analyse("SELEC 1"); a.ParseErr == nil {
		t.Fatal("expected a parse error")
	}
}

func TestParseSearchPath(t *testing.T) {
	cases := map[string][]string{
		`"$user", public`:      {"alice", "public"},
		`public`:               {"public"},
		`"My Schema",Other, x`: {"My Schema", "other", "x"},
		`""`:                   nil,
		`a,"b""c"`:             {"a", `b"c`},
	}
	for raw, want := range cases {
		if got := ParseSearchPath(raw, "alice"); !reflect.DeepEqual(got, want) {
			t.Errorf("%s: got %q, want %q", raw, got, want)
		}
	}
}

func FuzzAnalyse(f *testing.F) {
	for _, s := range []string{"SELECT * FROM post WHERE id = $1", "BEGIN; COMMIT", "WITH x AS (DELETE FROM t RETURNING *) SELECT * FROM x",
		"SELECT now()", "CREATE TABLE t (id int)", "", ";", "SELECT 'today'::date"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		a := Analyse(sql)
		if a.ParseErr == nil {
			_ = Resolve(a, nil, &Session{})
		}
	})
}
