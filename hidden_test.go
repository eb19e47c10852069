package cacheops_test

import "testing"

// Writes and reads whose effects the SQL text does not show: functions that
// defaults, constraints, generated columns, attribute notation, operators,
// CREATE TABLE AS and REFRESH run. Each case caches a read, writes through
// cacheops, and checks the read is fresh.
func TestEffectsTheSQLDoesNotShow(t *testing.T) {
	t.Parallel()
	runFreshCases(t, []freshCase{
		{name: "default writes",
			setup: `CREATE TABLE counter (id int PRIMARY KEY, n int); INSERT INTO counter VALUES (1, 0);
CREATE FUNCTION next_invoice_no() RETURNS int LANGUAGE sql VOLATILE AS 'UPDATE counter SET n = n + 1 WHERE id = 1 RETURNING n';
CREATE TABLE invoice (id serial PRIMARY KEY, no int DEFAULT next_invoice_no())`,
			read: "SELECT n FROM counter WHERE id = 1", write: "INSERT INTO invoice DEFAULT VALUES"},
		{name: "check writes",
			setup: `CREATE TABLE counter (id int PRIMARY KEY, n int); INSERT INTO counter VALUES (1, 0);
CREATE FUNCTION counted(v int) RETURNS bool LANGUAGE plpgsql VOLATILE AS $$BEGIN UPDATE counter SET n = n + 1 WHERE id = 1; RETURN true; END$$;
CREATE TABLE item (id int PRIMARY KEY, v int CHECK (counted(v)))`,
			read: "SELECT n FROM counter WHERE id = 1", write: "INSERT INTO item VALUES (1, 1)"},
		{name: "domain check writes",
			setup: `CREATE TABLE counter (id int PRIMARY KEY, n int); INSERT INTO counter VALUES (1, 0);
CREATE FUNCTION counted(v int) RETURNS bool LANGUAGE plpgsql VOLATILE AS $$BEGIN UPDATE counter SET n = n + 1 WHERE id = 1; RETURN true; END$$;
CREATE DOMAIN counted_int AS int CHECK (counted(VALUE));
CREATE TABLE item (id int PRIMARY KEY, v counted_int); INSERT INTO item VALUES (1, 1)`,
			read: "SELECT n FROM counter WHERE id = 1", write: "UPDATE item SET v = 2 WHERE id = 1"},
		{name: "generated",
			setup: `CREATE TABLE item (id int PRIMARY KEY, price int, qty int, total int GENERATED ALWAYS AS (price * qty) STORED);
INSERT INTO item VALUES (1, 2, 3), (2, 1, 6)`,
			read: "SELECT id FROM item WHERE total = 6 ORDER BY id", write: "UPDATE item SET qty = 4 WHERE id = 1"},
		{name: "generated in WITH",
			setup: `CREATE TABLE item (id int PRIMARY KEY, price int, qty int, total int GENERATED ALWAYS AS (price * qty) STORED);
INSERT INTO item VALUES (1, 2, 3), (2, 1, 6)`,
			read:  "SELECT id FROM item WHERE total = 8 ORDER BY id",
			write: "WITH u AS (UPDATE item SET qty = 4 WHERE total = 6 AND id = 1 RETURNING 1) SELECT count(*) FROM u"},
		{name: "attribute",
			setup: `CREATE FUNCTION category_title(post) RETURNS text LANGUAGE sql STABLE AS 'SELECT title FROM category WHERE id = $1.category_id'`,
			read:  "SELECT p.category_title FROM post p WHERE p.id = 1", write: "UPDATE category SET title = 'renamed' WHERE id = 1"},
		{name: "attribute parenthesised",
			setup: `CREATE FUNCTION category_title(post) RETURNS text LANGUAGE sql STABLE AS 'SELECT title FROM category WHERE id = $1.category_id'`,
			read:  "SELECT (p).category_title FROM post p WHERE p.id = 1", write: "UPDATE category SET title = 'renamed' WHERE id = 1"},
		{name: "operator",
			setup: `CREATE FUNCTION in_category(c int, t text) RETURNS bool LANGUAGE sql STABLE AS 'SELECT EXISTS (SELECT 1 FROM category WHERE id = c AND title = t)';
CREATE OPERATOR ==> (LEFTARG = int, RIGHTARG = text, FUNCTION = in_category)`,
			read: "SELECT id FROM post WHERE category_id ==> 'Django' ORDER BY id", write: "UPDATE category SET title = 'Flask' WHERE id = 1"},
		{name: "create table as",
			setup: `CREATE FUNCTION bump() RETURNS int LANGUAGE sql VOLATILE AS 'UPDATE post SET title = title || ''!'' WHERE id = 1 RETURNING 1'`,
			read:  "SELECT title FROM post WHERE id = 1", write: "CREATE TEMP TABLE snapshot AS SELECT bump()"},
		{name: "refresh",
			setup: `CREATE FUNCTION bump() RETURNS int LANGUAGE sql VOLATILE AS 'UPDATE post SET title = title || ''!'' WHERE id = 1 RETURNING 1';
CREATE MATERIALIZED VIEW bumped AS SELECT bump() AS b WITH NO DATA`,
			read: "SELECT title FROM post WHERE id = 1", write: "REFRESH MATERIALIZED VIEW bumped"},
		{name: "copy default writes",
			setup: `CREATE TABLE counter (id int PRIMARY KEY, n int); INSERT INTO counter VALUES (1, 0);
CREATE FUNCTION next_invoice_no() RETURNS int LANGUAGE sql VOLATILE AS 'UPDATE counter SET n = n + 1 WHERE id = 1 RETURNING n';
CREATE TABLE invoice (id int, no int DEFAULT next_invoice_no())`,
			read: "SELECT n FROM counter WHERE id = 1", write: "COPY invoice(id) FROM PROGRAM 'echo 7'"},
		{name: "domain default writes",
			setup: counterSetup + `CREATE DOMAIN dint AS int DEFAULT next_no(); CREATE TABLE inv (id serial, no dint)`,
			read:  "SELECT n FROM counter WHERE id = 1", write: "INSERT INTO inv DEFAULT VALUES"},
		{name: "nested domain default writes",
			setup: counterSetup + `CREATE DOMAIN d1 AS int DEFAULT next_no(); CREATE DOMAIN d2 AS d1; CREATE TABLE inv (id serial, no d2)`,
			read:  "SELECT n FROM counter WHERE id = 1", write: "INSERT INTO inv DEFAULT VALUES"},
		{name: "array element domain check writes",
			setup: counterSetup + `CREATE DOMAIN cint AS int CHECK (next_no() > 0); CREATE TABLE arr (id int, a cint[])`,
			read:  "SELECT n FROM counter WHERE id = 1", write: "INSERT INTO arr VALUES (1, ARRAY[1, 2])"},
		{name: "composite attribute domain check writes",
			setup: counterSetup + `CREATE DOMAIN cint AS int CHECK (next_no() > 0); CREATE TYPE pair AS (a cint, b int); CREATE TABLE pairs (id int, p pair)`,
			read:  "SELECT n FROM counter WHERE id = 1", write: "INSERT INTO pairs VALUES (1, ROW(1, 2))"},
		{name: "assignment cast writes",
			setup: counterSetup + `CREATE TYPE boxed AS (v int);
CREATE FUNCTION to_boxed(int) RETURNS boxed LANGUAGE plpgsql VOLATILE AS $$BEGIN PERFORM next_no(); RETURN ROW($1)::boxed; END$$;
CREATE CAST (int AS boxed) WITH FUNCTION to_boxed(int) AS ASSIGNMENT; CREATE TABLE boxes (b boxed)`,
			read: "SELECT n FROM counter WHERE id = 1", write: "INSERT INTO boxes VALUES (5)"},
		{name: "assignment cast from a column's type writes",
			setup: counterSetup + `CREATE TYPE boxed AS (v int);
CREATE FUNCTION from_boxed(boxed) RETURNS int LANGUAGE plpgsql VOLATILE AS $$BEGIN PERFORM next_no(); RETURN $1.v; END$$;
CREATE CAST (boxed AS int) WITH FUNCTION from_boxed(boxed) AS ASSIGNMENT;
CREATE TABLE boxes (b boxed); INSERT INTO boxes VALUES (ROW(5)); CREATE TABLE ints (i int)`,
			read: "SELECT n FROM counter WHERE id = 1", write: "INSERT INTO ints SELECT b FROM boxes"},
		{name: "explicit cast reads a table",
			setup: `CREATE TYPE ctitle AS (t text);
CREATE FUNCTION to_ct(int) RETURNS ctitle LANGUAGE sql STABLE AS 'SELECT ROW(title)::ctitle FROM category WHERE id = $1';
CREATE CAST (int AS ctitle) WITH FUNCTION to_ct(int)`,
			read: "SELECT (1::ctitle).t", write: "UPDATE category SET title = 'cast' WHERE id = 1"},
		{name: "cast on a column's type reads a table",
			setup: `CREATE TYPE ctitle AS (t text);
CREATE FUNCTION to_ct(int) RETURNS ctitle LANGUAGE sql STABLE AS 'SELECT ROW(title)::ctitle FROM category WHERE id = $1';
CREATE CAST (int AS ctitle) WITH FUNCTION to_ct(int) AS IMPLICIT;
CREATE FUNCTION same(ctitle, ctitle) RETURNS bool LANGUAGE sql IMMUTABLE AS 'SELECT $1.t = $2.t';
CREATE OPERATOR public.=== (LEFTARG = ctitle, RIGHTARG = ctitle, FUNCTION = same);
CREATE TABLE ct (c ctitle); INSERT INTO ct VALUES (ROW('Django'))`,
			read: "SELECT count(*) FROM ct WHERE c OPERATOR(public.===) 1", write: "UPDATE category SET title = 'cast2' WHERE id = 1"},
	})
}

// counterSetup: a counter and a function that bumps it, for defaults,
// checks and casts that write.
const counterSetup = `CREATE TABLE counter (id int PRIMARY KEY, n int); INSERT INTO counter VALUES (1, 0);
CREATE FUNCTION next_no() RETURNS int LANGUAGE sql VOLATILE AS 'UPDATE counter SET n = n + 1 WHERE id = 1 RETURNING n';
`

// Defaults of builtin or known-pure functions keep writes granular.
func TestPureDefaultsStayGranular(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	e.outOfBand(`CREATE TABLE token (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), n serial, at timestamptz DEFAULT now())`)
	q := "SELECT title FROM post WHERE id = 1"
	e.cached(q)
	e.outOfBand("UPDATE post SET title = 'changed behind the cache' WHERE id = 1")
	e.exec("INSERT INTO token DEFAULT VALUES")
	e.kept(q)
}

// Domains with pure defaults and checks, and casts with immutable
// functions, keep writes granular and reads cached.
func TestPureDomainsAndCastsStayGranular(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	e.outOfBand(`CREATE DOMAIN positive AS int DEFAULT 1 CHECK (VALUE > 0); CREATE TYPE boxed AS (v int);
CREATE FUNCTION to_boxed(int) RETURNS boxed LANGUAGE sql IMMUTABLE AS 'SELECT ROW($1)::boxed';
CREATE CAST (int AS boxed) WITH FUNCTION to_boxed(int) AS ASSIGNMENT;
CREATE TABLE box (id int PRIMARY KEY, n positive, b boxed); INSERT INTO box VALUES (1, 2, ROW(3))`)
	q := "SELECT title FROM post WHERE id = 1"
	e.cached(q)
	e.cached("SELECT n FROM box WHERE id = 1")
	e.cached("SELECT (2::boxed).v")
	e.outOfBand("UPDATE post SET title = 'changed behind the cache' WHERE id = 1")
	e.exec("INSERT INTO box(id, b) VALUES (2, 4)")
	e.kept(q)
}
