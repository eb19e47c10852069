package cacheops_test

import "testing"

// Foreign keys cascade only on the operations they name: a trigger two ON
// DELETE CASCADE levels below category makes deletes from category
// invalidate everything, never inserts or updates of it.
func TestCascadesOnlyForTheOperationsThatCascade(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	e.outOfBand(touchBrandOnDelete("extra"))
	q := "SELECT name FROM brand WHERE id = 2"
	e.cached(q)
	e.outOfBand("UPDATE brand SET name = 'changed behind the cache' WHERE id = 2")
	e.exec("INSERT INTO category(title) VALUES ('Go')")
	e.exec("UPDATE category SET title = 'Golang' WHERE title = 'Go'")
	e.kept(q)
	q1 := "SELECT name FROM brand WHERE id = 1"
	e.cached(q1)
	e.exec("DELETE FROM category WHERE id = 1") // → post 1 → extra 1 → the trigger
	e.fresh(q1)
	e.fresh(q)
}

// A partition takes the operation written to its parent: an INSERT into a
// partitioned table cascades nowhere, even where its partitions' foreign
// keys cascade deletes into a table with a trigger.
func TestInsertsIntoPartitionsCascadeNowhere(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	e.outOfBand(`CREATE TABLE orders (id int PRIMARY KEY) PARTITION BY RANGE (id);
CREATE TABLE orders_low PARTITION OF orders FOR VALUES FROM (0) TO (1000);
CREATE TABLE order_line (order_id int REFERENCES orders(id) ON DELETE CASCADE, n int);
` + touchBrandOnDelete("order_line"))
	q := "SELECT name FROM brand WHERE id = 2"
	e.cached(q)
	e.outOfBand("UPDATE brand SET name = 'changed behind the cache' WHERE id = 2")
	e.exec("INSERT INTO orders VALUES (1)")
	e.kept(q)
}

// touchBrandOnDelete gives table a trigger that, on delete, writes brand 1.
func touchBrandOnDelete(table string) string {
	return `CREATE FUNCTION touch_brand() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN UPDATE brand SET name = name || '!' WHERE id = 1; RETURN OLD; END $$;
CREATE TRIGGER touch_brand AFTER DELETE ON ` + table + ` FOR EACH ROW EXECUTE FUNCTION touch_brand()`
}

// SET CONSTRAINTS moves checks to COMMIT: no schema change, nothing
// invalidated.
func TestSetConstraintsInvalidatesNothing(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	q := "SELECT name FROM brand WHERE id = 2"
	e.cached(q)
	e.outOfBand("UPDATE brand SET name = 'changed behind the cache' WHERE id = 2")
	tx, err := e.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec("SET CONSTRAINTS ALL DEFERRED"); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	e.kept(q)
}
