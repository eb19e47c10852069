package cacheops_test

import "testing"

// Neighbours of the measured failures: every other way a statement can
// change rows (MERGE, rules, INSTEAD OF triggers, views, SQL-level
// PREPARE/EXECUTE, functions run by SELECT, row movement between
// partitions, inheritance, every foreign-key action, TRUNCATE and
// statement triggers, WHERE CURRENT OF, several statements in one text)
// and every way a literal becomes a stored or compared value. Each case
// caches a read, writes through cacheops, and checks the read is fresh.
func TestEveryOtherWayAStatementChangesRows(t *testing.T) {
	t.Parallel()
	runFreshCases(t, []freshCase{
		{name: "merge update",
			read: "SELECT title FROM post WHERE id = 1", write: "MERGE INTO post p USING (VALUES (1, 'merged')) v(id, t) ON p.id = v.id WHEN MATCHED THEN UPDATE SET title = v.t"},
		{name: "merge insert",
			read: "SELECT count(*) FROM post WHERE category_id = 2", write: "MERGE INTO post p USING (VALUES (9, 'new')) v(id, t) ON p.id = v.id WHEN NOT MATCHED THEN INSERT (id, title, category_id) VALUES (v.id, v.t, 2)"},
		{name: "merge delete cascade",
			read: "SELECT count(*) FROM extra WHERE post_id = 1", write: "MERGE INTO post p USING (VALUES (1)) v(id) ON p.id = v.id WHEN MATCHED THEN DELETE"},
		{name: "rule also",
			setup: "CREATE RULE r AS ON UPDATE TO post DO ALSO UPDATE category SET title = 'ruled' WHERE id = NEW.category_id",
			read:  "SELECT title FROM category WHERE id = 1", write: "UPDATE post SET title = 'x' WHERE id = 1"},
		{name: "rule instead on view",
			setup: "CREATE VIEW pv AS SELECT id, title FROM post; CREATE RULE pv_upd AS ON UPDATE TO pv DO INSTEAD UPDATE post SET title = NEW.title WHERE id = OLD.id",
			read:  "SELECT title FROM post WHERE id = 1", write: "UPDATE pv SET title = 'via rule' WHERE id = 1"},
		{name: "instead of trigger view",
			setup: `CREATE VIEW pv AS SELECT id, title FROM post;
CREATE FUNCTION pv_upd() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN UPDATE category SET title = NEW.title WHERE id = 1; RETURN NEW; END$$;
CREATE TRIGGER pv_t INSTEAD OF UPDATE ON pv FOR EACH ROW EXECUTE FUNCTION pv_upd()`,
			read: "SELECT title FROM category WHERE id = 1", write: "UPDATE pv SET title = 'via trigger' WHERE id = 1"},
		{name: "auto updatable view",
			setup: "CREATE VIEW pv AS SELECT id, title FROM post WHERE visible",
			read:  "SELECT title FROM post WHERE id = 1", write: "UPDATE pv SET title = 'via view' WHERE id = 1"},
		{name: "sql prepare execute",
			read: "SELECT title FROM post WHERE id = 1", write: "PREPARE w AS UPDATE post SET title = 'prepared' WHERE id = 1; EXECUTE w"},
		{name: "select function doing ddl trigger",
			setup: `CREATE TABLE audit (n int); INSERT INTO audit VALUES (0);
CREATE FUNCTION bump_audit() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN UPDATE audit SET n = n + 1; RETURN NEW; END$$;
CREATE FUNCTION install() RETURNS int LANGUAGE plpgsql AS $$BEGIN CREATE TRIGGER t AFTER UPDATE ON post FOR EACH ROW EXECUTE FUNCTION bump_audit(); UPDATE post SET title = title WHERE id = 1; RETURN 1; END$$`,
			read: "SELECT n FROM audit", write: "SELECT install()"},
		{name: "merge generated",
			setup: `CREATE TABLE item (id int PRIMARY KEY, price int, qty int, total int GENERATED ALWAYS AS (price * qty) STORED); INSERT INTO item VALUES (1, 2, 3), (2, 1, 6)`,
			read:  "SELECT id FROM item WHERE total = 8 ORDER BY id", write: "MERGE INTO item i USING (VALUES (1)) v(id) ON i.id = v.id WHEN MATCHED THEN UPDATE SET qty = 4"},
		{name: "cte insert numeric rounds into int",
			setup: numbers,
			read:  "SELECT count(*) FROM num WHERE id = 2", write: "WITH i AS (INSERT INTO num VALUES (1.6) RETURNING 1) SELECT count(*) FROM i"},
		{name: "cte insert text int with spaces",
			setup: numbers,
			read:  "SELECT count(*) FROM num WHERE id = 7", write: "WITH i AS (INSERT INTO num VALUES (' 7 ') RETURNING 1) SELECT count(*) FROM i"},
		{name: "cte update where spaced literal",
			read: "SELECT title FROM post WHERE id = 1", write: "WITH u AS (UPDATE post SET title = 'spaced' WHERE id = ' 1' RETURNING 1) SELECT count(*) FROM u"},
		{name: "cte insert bool spelling",
			setup: "CREATE TABLE flag (id int, b bool)",
			read:  "SELECT count(*) FROM flag WHERE b", write: "WITH i AS (INSERT INTO flag VALUES (1, ' yes ') RETURNING 1) SELECT count(*) FROM i"},
		{name: "cte insert varchar over length spaces",
			setup: "CREATE TABLE code (id int PRIMARY KEY, c varchar(2))",
			read:  "SELECT count(*) FROM code WHERE c = 'ab'", write: "WITH i AS (INSERT INTO code VALUES (1, 'ab   ') RETURNING 1) SELECT count(*) FROM i"},
		{name: "truncate cascade",
			read: "SELECT count(*) FROM extra WHERE post_id = 1", write: "TRUNCATE post CASCADE"},
		{name: "cte with same name as table",
			read: "WITH post AS (SELECT id, title FROM category) SELECT title FROM post WHERE id = 1", write: "UPDATE category SET title = 'cte' WHERE id = 1"},
		{name: "using join",
			read: "SELECT p.title FROM post p JOIN extra e USING (id) WHERE id = 1", write: "UPDATE post SET title = 'using' WHERE id = 1"},
		{name: "natural join",
			setup: "CREATE TABLE a (k int, v text); CREATE TABLE b (k int, w text); INSERT INTO a VALUES (1, 'x'); INSERT INTO b VALUES (1, 'y')",
			read:  "SELECT v, w FROM a NATURAL JOIN b WHERE k = 1", write: "UPDATE b SET w = 'z' WHERE k = 1"},
		{name: "partial alias list",
			read: "SELECT x.title FROM post AS x(pid) WHERE x.pid = 1", write: "UPDATE post SET title = 'aliased' WHERE id = 1"},
		{name: "lateral",
			read: "SELECT p.title, l.t FROM post p, LATERAL (SELECT title AS t FROM category c WHERE c.id = p.category_id) l WHERE p.id = 1", write: "UPDATE category SET title = 'lat' WHERE id = 1"},
		{name: "table command",
			read: "TABLE category", write: "UPDATE category SET title = 'table' WHERE id = 1"},
		{name: "array literal any",
			read: "SELECT title FROM post WHERE id = ANY('{ 1 , \"2\"}') ORDER BY 1", write: "UPDATE post SET title = 'arr' WHERE id = 1"},
		{name: "numeric equal int",
			read: "SELECT title FROM post WHERE id = 1.0", write: "UPDATE post SET title = 'num' WHERE id = 1"},
		{name: "float equal int",
			read: "SELECT title FROM post WHERE id = 1e0", write: "UPDATE post SET title = 'flt' WHERE id = 1"},
		{name: "text int literal",
			read: "SELECT title FROM post WHERE id = '01'", write: "UPDATE post SET title = 'zero' WHERE id = 1"},
		{name: "text int plus",
			read: "SELECT title FROM post WHERE id = '+1'", write: "UPDATE post SET title = 'plus' WHERE id = 1"},
		{name: "in subquery",
			read: "SELECT title FROM category WHERE id IN (SELECT category_id FROM post WHERE id = 1)", write: "UPDATE post SET category_id = 2 WHERE id = 1"},
		{name: "select volatile function writing",
			setup: writingFunction,
			read:  "SELECT title FROM category WHERE id = 1", write: "SELECT w()"},
		{name: "values with function in where of update",
			setup: writingFunction,
			read:  "SELECT title FROM category WHERE id = 1", write: "UPDATE post SET title = 'x' WHERE id = w()"},
		{name: "insert on conflict update other row",
			read: "SELECT title FROM post WHERE id = 1", write: "INSERT INTO post(id, title) VALUES (1, 'upsert') ON CONFLICT (id) DO UPDATE SET title = EXCLUDED.title"},
		{name: "delete using",
			read: "SELECT count(*) FROM post WHERE category_id = 3", write: "DELETE FROM post p USING category c WHERE c.id = p.category_id AND c.title = 'Perl'"},
		{name: "update from",
			read: "SELECT title FROM post WHERE category_id = 3 ORDER BY id", write: "UPDATE post p SET title = c.title FROM category c WHERE c.id = p.category_id AND c.id = 3"},
		{name: "partition row movement read partition",
			setup: partitioned,
			read:  "SELECT count(*) FROM pt_a WHERE id = 1", write: "UPDATE pt SET k = 2 WHERE id = 1"},
		{name: "partition row movement read other partition",
			setup: partitioned,
			read:  "SELECT count(*) FROM pt_b WHERE id = 1", write: "UPDATE pt SET k = 2 WHERE id = 1"},
		{name: "inheritance child update read parent",
			setup: inherited,
			read:  "SELECT v FROM base WHERE id = 1", write: "UPDATE kid SET v = 'y' WHERE id = 1"},
		{name: "inheritance parent update read child",
			setup: inherited,
			read:  "SELECT v FROM kid WHERE id = 1", write: "UPDATE base SET v = 'y' WHERE id = 1"},
		{name: "fk on update cascade",
			setup: "CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c (id int, pid int REFERENCES p ON UPDATE CASCADE); INSERT INTO p VALUES (1); INSERT INTO c VALUES (1, 1)",
			read:  "SELECT count(*) FROM c WHERE pid = 1", write: "UPDATE p SET id = 2 WHERE id = 1"},
		{name: "fk set null generated",
			setup: "CREATE TABLE p (id int PRIMARY KEY); CREATE TABLE c (id int, pid int REFERENCES p ON DELETE SET NULL, has bool GENERATED ALWAYS AS (pid IS NOT NULL) STORED); INSERT INTO p VALUES (1); INSERT INTO c VALUES (1, 1)",
			read:  "SELECT count(*) FROM c WHERE has", write: "DELETE FROM p WHERE id = 1"},
		{name: "fk set default",
			setup: "CREATE TABLE p (id int PRIMARY KEY); INSERT INTO p VALUES (0), (1); CREATE TABLE c (id int, pid int DEFAULT 0 REFERENCES p ON DELETE SET DEFAULT); INSERT INTO c VALUES (1, 1)",
			read:  "SELECT count(*) FROM c WHERE pid = 0", write: "DELETE FROM p WHERE id = 1"},
		{name: "truncate trigger",
			setup: `CREATE TABLE audit (n int); INSERT INTO audit VALUES (0); CREATE TABLE tt (id int);
CREATE FUNCTION on_trunc() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN UPDATE audit SET n = n + 1; RETURN NULL; END$$;
CREATE TRIGGER t AFTER TRUNCATE ON tt FOR EACH STATEMENT EXECUTE FUNCTION on_trunc()`,
			read: "SELECT n FROM audit", write: "TRUNCATE tt"},
		{name: "where current of",
			read: "SELECT title FROM post WHERE id = 1", write: "BEGIN; DECLARE c CURSOR FOR SELECT * FROM post WHERE id = 1 FOR UPDATE; FETCH c; UPDATE post SET title = 'cur' WHERE CURRENT OF c; COMMIT"},
		{name: "multi statement",
			read: "SELECT title FROM post WHERE id = 1", write: "SELECT 1; UPDATE post SET title = 'multi' WHERE id = 1"},
		{name: "statement trigger transition",
			setup: `CREATE TABLE audit (n int); INSERT INTO audit VALUES (0);
CREATE FUNCTION cnt() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN UPDATE audit SET n = n + (SELECT count(*) FROM nw); RETURN NULL; END$$;
CREATE TRIGGER t AFTER UPDATE ON category REFERENCING NEW TABLE AS nw FOR EACH STATEMENT EXECUTE FUNCTION cnt()`,
			read: "SELECT n FROM audit", write: "UPDATE category SET title = 'x' WHERE id = 1"},
		{name: "view on view write",
			setup: "CREATE VIEW v1 AS SELECT * FROM post; CREATE VIEW v2 AS SELECT * FROM v1 WHERE visible",
			read:  "SELECT title FROM v2 WHERE id = 1", write: "UPDATE v2 SET title = 'vv' WHERE id = 1"},
		{name: "update by subquery",
			read: "SELECT title FROM post WHERE id = 2", write: "UPDATE post SET title = upper(title) WHERE id IN (SELECT post_id FROM extra WHERE tag = 10)"},
		{name: "insert select where not exists",
			read: "SELECT count(*) FROM category WHERE title = 'Go'", write: "INSERT INTO category(title) SELECT 'Go' WHERE NOT EXISTS (SELECT 1 FROM category WHERE title = 'Go')"},
		{name: "enum rename",
			setup: "CREATE TYPE mood AS ENUM ('sad', 'ok'); CREATE TABLE m (id int, v mood); INSERT INTO m VALUES (1, 'sad')",
			read:  "SELECT v::text FROM m WHERE id = 1", write: "ALTER TYPE mood RENAME VALUE 'sad' TO 'glum'"},
	})
}

const (
	partitioned     = "CREATE TABLE pt (id int, k int, v text) PARTITION BY LIST (k); CREATE TABLE pt_a PARTITION OF pt FOR VALUES IN (1); CREATE TABLE pt_b PARTITION OF pt FOR VALUES IN (2); INSERT INTO pt VALUES (1, 1, 'x')"
	inherited       = "CREATE TABLE base (id int, v text); CREATE TABLE kid () INHERITS (base); INSERT INTO kid VALUES (1, 'x')"
	writingFunction = "CREATE FUNCTION w() RETURNS int LANGUAGE sql AS 'UPDATE category SET title = ''fn'' WHERE id = 1 RETURNING 1'"
	numbers         = "CREATE TABLE num (id int PRIMARY KEY)"
)
