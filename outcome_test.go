package cacheops_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cacheops/cacheops"
)

// A write of 1,000 rows read by 9 schemes deletes over 9,000 stamps: more
// than Lua's unpack takes. Another process must still see the write.
func TestBigInvalidationReachesOtherProcesses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, func(o *cacheops.Options) { o.MaxCapturedRows = 5000 })
	e.outOfBand(`CREATE TABLE big (id int PRIMARY KEY, a int, b int, c int, d int, f int, g int, h int, v int);
INSERT INTO big SELECT i, i, i, i, i, i, i, i, 0 FROM generate_series(1, 1000) i`)
	other := e.otherProcess()
	var reads []string
	for _, col := range []string{"id", "a", "b", "c", "d", "f", "g", "h"} {
		reads = append(reads, "SELECT v FROM big WHERE "+col+" = 1000")
	}
	reads = append(reads, "SELECT v FROM big WHERE a = 1000 AND b = 1000")
	for _, q := range reads {
		other.cached(t, q)
		e.cached(q) // this process registers the same schemes
	}
	e.exec("UPDATE big SET v = v + 1")
	for _, q := range reads {
		e.fresh(q)
		other.fresh(t, e, q)
	}
	if s := e.cache.Stats(); s.Invalidations < 9000 || s.RedisErrors != 0 {
		t.Fatalf("want over 9,000 stamps delivered without error: %+v", s)
	}
}

// A procedure or DO block that commits and then raises returns an error, but
// its write happened.
func TestProceduresThatCommitThenFail(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	e.outOfBand(`CREATE PROCEDURE retitle(t text) LANGUAGE plpgsql AS $$
BEGIN UPDATE post SET title = t WHERE id = 1; COMMIT; RAISE EXCEPTION 'after the commit'; END $$`)
	for i, write := range []string{
		"CALL retitle('by procedure')",
		"DO $$BEGIN UPDATE post SET title = 'by DO' WHERE id = 1; COMMIT; RAISE EXCEPTION 'after the commit'; END$$",
	} {
		q := "SELECT title FROM post WHERE id = 1"
		e.cached(q)
		other := e.otherProcess()
		other.cached(t, q)
		if _, err := e.db.Exec(write); err == nil || !strings.Contains(err.Error(), "after the commit") {
			t.Fatalf("%d: want PostgreSQL's error, got %v", i, err)
		}
		e.fresh(q)
		other.fresh(t, e, q)
	}
}

// DDL inside DO blocks (migrations often run there) is DDL: every process
// reloads its catalog, so a trigger created in one is seen by the writes of
// all, and row level security turned on stops sharing entries between
// tenants.
func TestDDLInsideDoBlocks(t *testing.T) {
	t.Parallel()
	t.Run("trigger", func(t *testing.T) {
		e := newFixture(t)
		other := e.otherProcess()
		q := "SELECT title FROM category WHERE id = 1"
		e.cached(q)
		other.cached(t, "SELECT title FROM post WHERE id = 1") // other's catalog is loaded and in use
		e.exec(`DO $$BEGIN
  CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $f$
  BEGIN UPDATE category SET title = title || '!' WHERE id = NEW.category_id; RETURN NEW; END $f$;
  CREATE TRIGGER touch AFTER UPDATE ON post FOR EACH ROW EXECUTE FUNCTION touch();
END$$`)
		e.cached(q)
		mustExec(t, other.db, "UPDATE post SET title = 'x' WHERE id = 1") // fires the trigger
		e.fresh(q)
		other.fresh(t, e, q)
	})
	t.Run("row level security", func(t *testing.T) {
		e := newEnv(t)
		role := ownRole(t, e)
		e.outOfBand(`CREATE TABLE doc (id int, tenant text, body text);
INSERT INTO doc VALUES (1, 'a', 'for a'), (2, 'b', 'for b');
GRANT SELECT ON doc TO ` + role)
		reader := e.openAs(t, role)
		reader.SetMaxOpenConns(1)
		q := "SELECT body FROM doc ORDER BY id"
		if got := rows(t, reader, q); got != "for a|for b" {
			t.Fatalf("before: %q", got)
		}
		e.exec(`DO $$BEGIN
  ALTER TABLE doc ENABLE ROW LEVEL SECURITY;
  CREATE POLICY tenant ON doc USING (tenant = current_setting('app.tenant', true));
END$$`)
		for _, tenant := range []string{"a", "b", "a", "b"} {
			mustExec(t, reader, "SELECT set_config('app.tenant', $1, false)", tenant)
			if got := rows(t, reader, q); got != "for "+tenant {
				t.Fatalf("tenant %s read %q: another tenant's rows", tenant, got)
			}
		}
	})
}

// A migration run outside cacheops, then InvalidateAll: every process
// reloads its catalog, writes included.
func TestInvalidateAllReloadsEveryCatalog(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	other := e.otherProcess()
	q := "SELECT title FROM category WHERE id = 1"
	mustExec(t, other.db, "UPDATE post SET title = 'warm' WHERE id = 1") // other plans this write now
	e.outOfBand(`CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $f$
  BEGIN UPDATE category SET title = title || '!' WHERE id = NEW.category_id; RETURN NEW; END $f$;
  CREATE TRIGGER touch AFTER UPDATE ON post FOR EACH ROW EXECUTE FUNCTION touch()`)
	if err := cacheops.InvalidateAll(e.ctx, e.db); err != nil {
		t.Fatal(err)
	}
	e.cached(q)
	mustExec(t, other.db, "UPDATE post SET title = 'warm' WHERE id = 1")
	e.fresh(q)
}

// A transaction begun after DDL uses the cache once the catalog is current.
func TestTransactionAfterDDLUsesTheCache(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	q := "SELECT title FROM post WHERE id = 2"
	e.exec("CREATE TABLE newcomer (id int)")
	tx, err := e.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	rows(t, tx, q)
	hits := e.cache.Stats().Hits
	rows(t, tx, q)
	if e.cache.Stats().Hits != hits+1 {
		t.Fatalf("a transaction begun after DDL did not use the cache: %+v", e.cache.Stats())
	}
}

// The capture's rows are read after PostgreSQL committed; a deadline, a
// cancellation or a lost connection ends the reading part way, through Exec
// or through Query. The rows not read were written too: the write's tables
// go whole.
func TestCaptureCutShort(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"deadline", "cancel", "lost"} {
		for _, api := range []string{"exec", "query", "pgx exec", "pgx query"} {
			query := strings.HasSuffix(api, "query")
			t.Run(how+" "+api, func(t *testing.T) {
				t.Parallel()
				e := newEnv(t, func(o *cacheops.Options) { o.MaxCapturedRows = 50000 })
				e.outOfBand(`CREATE TABLE big (id int PRIMARY KEY, v int, pad text);
INSERT INTO big SELECT i, 0, repeat('x', 20) FROM generate_series(1, 5000) i`)
				proxy := newPgProxy(t)
				db := proxy.open(t, e.cache, e.schema)
				other := e.otherProcess()
				q := "SELECT v FROM big WHERE id = 5000"
				other.cached(t, q)
				proxy.trickleAfter("UPDATE big", 4096, how == "lost")
				// Generous, so that PostgreSQL has committed long before, even
				// on a loaded machine: the test is about what happens after.
				ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
				defer cancel()
				if how == "cancel" {
					ctx, cancel = context.WithCancel(context.Background())
					time.AfterFunc(2500*time.Millisecond, cancel)
				}
				w := "UPDATE big SET v = v + 1 WHERE id > $1"
				var err error
				if strings.HasPrefix(api, "pgx") {
					pool := proxy.openPool(t, e.cache, e.schema)
					err = pool.AcquireFunc(context.Background(), func(*cacheops.PoolConn) error { return nil }) // connect first
					if err != nil {
						t.Fatal(err)
					}
					if query {
						var rs pgx.Rows
						if rs, err = pool.Query(ctx, w+" RETURNING id", 0); err == nil {
							for rs.Next() {
							}
							err = rs.Err()
							rs.Close()
						}
					} else {
						_, err = pool.Exec(ctx, w, 0)
					}
				} else if query {
					var rs *sql.Rows
					if rs, err = db.QueryContext(ctx, w+" RETURNING id", 0); err == nil {
						for rs.Next() {
						}
						err = rs.Err()
						rs.Close()
					}
				} else {
					_, err = db.ExecContext(ctx, w, 0)
				}
				if err == nil {
					t.Fatal("the write should have been cut short")
				}
				waitFor(t, func() bool { return e.direct_(q) == "1" }) // PostgreSQL committed
				other.fresh(t, e, q)
				if s := e.cache.Stats(); s.Ambiguous == 0 {
					t.Fatalf("the write's outcome was taken as known: %+v", s)
				}
			})
		}
	}
}

// A COMMIT whose reply is lost may become visible later than its error: the
// invalidation is repeated after AmbiguousDelay, so an entry filled from the
// old rows in between does not outlive it.
func TestAmbiguousCommitIsInvalidatedAgainLater(t *testing.T) {
	t.Parallel()
	for _, delay := range []time.Duration{300 * time.Millisecond, -1} {
		t.Run(fmt.Sprint(delay), func(t *testing.T) {
			e := newFixture(t, func(o *cacheops.Options) { o.AmbiguousDelay = delay })
			proxy := newPgProxy(t)
			db := proxy.open(t, e.cache, e.schema)
			q := "SELECT title FROM post WHERE id = 1"
			e.cached(q)
			tx, err := db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec("UPDATE post SET title = 'late' WHERE id = 1"); err != nil {
				t.Fatal(err)
			}
			held := proxy.holdCommit()
			err = tx.Commit()
			var pgErr *pgconn.PgError
			if err == nil || errors.As(err, &pgErr) {
				t.Fatalf("want a lost reply, got %v", err)
			}
			e.fresh(q)     // the commit has not happened: the old title
			e.cached(q)    // … cached again
			held.release() // now it commits
			waitFor(t, func() bool { return e.direct_(q) == "late" })
			if delay < 0 {
				if e.read(q) != "Cacheops" {
					t.Fatal("without the delayed invalidation the entry should still be stale: the test proves nothing")
				}
				return
			}
			time.Sleep(delay + time.Second) // generous: the delay counts from the first invalidation
			e.fresh(q)
		})
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if cond() {
			return
		}
		time.Sleep(25 * time.Millisecond)
	}
	t.Fatal("timed out waiting")
}
