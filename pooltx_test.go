package cacheops_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cacheops/cacheops"
)

func TestPoolTransactionInvalidatesAtCommitOnly(t *testing.T) {
	e := newFixture(t)
	pool, _ := e.pools()
	ctx := e.ctx
	const q = "SELECT title FROM post WHERE id = $1"
	e.pgxMiss(pool, "Cacheops", q, 1)

	// Rolled back: nothing invalidated, the entry still serves.
	tx, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.pgxHit(tx, "Cacheops", q, 1) // a clean transaction reads the cache
	if _, err := tx.Exec(ctx, "UPDATE post SET title = 'rolled back' WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	e.pgxMiss(tx, "rolled back", q, 1) // after its write it reads past the cache
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tx.Rollback(ctx); !errors.Is(err, pgx.ErrTxClosed) {
		t.Fatalf("a second Rollback: %v", err)
	}
	e.pgxHit(pool, "Cacheops", q, 1)

	// Committed through pgx.BeginFunc: invalidated before it returns.
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "UPDATE post SET title = 'committed' WHERE id = 1")
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.pgxMiss(pool, "committed", q, 1)
	// … and through database/sql too: one set of stamps.
	e.fresh("SELECT title FROM post WHERE id = 1")

	// A savepoint rolled back keeps the transaction usable and its
	// invalidation at commit.
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "UPDATE post SET title = 'outer' WHERE id = 1"); err != nil {
			return err
		}
		sp, err := tx.Begin(ctx)
		if err != nil {
			return err
		}
		if _, err := sp.Exec(ctx, "UPDATE post SET title = 'no such column' WHERE nope = 1"); err == nil {
			return errors.New("the failing statement succeeded")
		}
		if err := sp.Rollback(ctx); err != nil {
			return err
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	e.pgxMiss(pool, "outer", q, 1)

	// A statement that fails inside a savepoint rolled back leaves a clean
	// transaction, which reads the cache again.
	err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		sp, err := tx.Begin(ctx)
		if err != nil {
			return err
		}
		if _, err := sp.Exec(ctx, "SELECT nope FROM post"); err == nil {
			return errors.New("the failing statement succeeded")
		}
		if err := sp.Rollback(ctx); err != nil {
			return err
		}
		e.pgxHit(tx, "outer", q, 1)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := pool.Stat().AcquiredConns(); n != 0 {
		t.Fatalf("%d connections still acquired", n)
	}
}

func TestPoolAndDatabaseSQLShareStamps(t *testing.T) {
	e := newFixture(t)
	pool, _ := e.pools()
	ctx := e.ctx
	const q = "SELECT title FROM post WHERE id = $1"
	// A native write invalidates what database/sql cached …
	e.cached("SELECT title FROM post WHERE id = $1", 2)
	if _, err := pool.Exec(ctx, "UPDATE post SET title = 'native' WHERE id = $1", 2); err != nil {
		t.Fatal(err)
	}
	e.fresh("SELECT title FROM post WHERE id = $1", 2)
	// … and a database/sql write what the pool cached.
	e.pgxMiss(pool, "Cacheops", q, 1)
	e.pgxHit(pool, "Cacheops", q, 1)
	e.exec("UPDATE post SET title = 'database/sql' WHERE id = $1", 1)
	e.pgxMiss(pool, "database/sql", q, 1)

	// Another process (its own Cache on the same Redis and prefix) sees the
	// pool's writes.
	other := e.otherProcess()
	other.cached(t, "SELECT title FROM post WHERE id = 3")
	if _, err := pool.Exec(ctx, "UPDATE post SET title = 'seen' WHERE id = 3"); err != nil {
		t.Fatal(err)
	}
	other.fresh(t, e, "SELECT title FROM post WHERE id = 3")
}

func TestPoolCopyFromAndBatchesInvalidate(t *testing.T) {
	e := newFixture(t)
	pool, _ := e.pools()
	ctx := e.ctx
	const count = "SELECT count(*) FROM post WHERE category_id = $1"
	e.pgxMiss(pool, "0", count, 2)
	e.pgxHit(pool, "0", count, 2)
	n, err := pool.CopyFrom(ctx, pgx.Identifier{"post"}, []string{"title", "category_id"},
		pgx.CopyFromRows([][]any{{"copied", 2}, {"copied too", 2}}))
	if err != nil || n != 2 {
		t.Fatalf("CopyFrom: %d %v", n, err)
	}
	e.pgxMiss(pool, "2", count, 2)

	// A batch: its writes invalidate, its callbacks see their own rows only.
	const q = "SELECT title FROM post WHERE id = $1"
	e.pgxMiss(pool, "Cacheops", q, 1)
	e.pgxMiss(pool, "Perl 6", q, 3)
	b := &pgx.Batch{}
	b.Queue("UPDATE post SET title = $1 WHERE id = $2", "batched", 1)
	var returned []string
	b.Queue("UPDATE post SET title = title || '!' WHERE id = $1 RETURNING title", 2).Query(func(rows pgx.Rows) error {
		titles, err := pgx.CollectRows(rows, pgx.RowTo[string])
		returned = titles
		return err
	})
	var seen string
	b.Queue(q, 1).QueryRow(func(row pgx.Row) error { return row.Scan(&seen) })
	if err := pool.SendBatch(ctx, b).Close(); err != nil {
		t.Fatal(err)
	}
	if len(returned) != 1 || returned[0] != "Implicit variable as pronoun!" || seen != "batched" {
		t.Fatalf("batch results: %q %q", returned, seen)
	}
	e.pgxMiss(pool, "batched", q, 1)
	e.pgxHit(pool, "Perl 6", q, 3) // untouched rows keep their entries

	// A batch that begins a transaction: invalidated at its commit.
	b = &pgx.Batch{}
	b.BeginTx(pgx.TxOptions{})
	b.Queue("UPDATE post SET title = 'in a batch transaction' WHERE id = 3")
	br := pool.SendBatch(ctx, b)
	tx := br.Tx()
	if tx == nil {
		t.Fatal("no transaction")
	}
	if err := br.Close(); err != nil {
		t.Fatal(err)
	}
	e.pgxHit(pool, "Perl 6", q, 3) // not committed yet
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	e.pgxMiss(pool, "in a batch transaction", q, 3)
	if n := pool.Stat().AcquiredConns(); n != 0 {
		t.Fatalf("%d connections still acquired", n)
	}
}

func TestPoolNamedArgsAndPreparedStatements(t *testing.T) {
	e := newFixture(t)
	pool, _ := e.pools()
	ctx := e.ctx
	const q = "SELECT title FROM post WHERE id = @id"
	e.pgxMiss(pool, "Cacheops", q, pgx.NamedArgs{"id": 1})
	e.pgxHit(pool, "Cacheops", q, pgx.NamedArgs{"id": 1})
	e.pgxMiss(pool, "Perl 6", q, pgx.NamedArgs{"id": 3})
	if _, err := pool.Exec(ctx, "UPDATE post SET title = @title WHERE id = @id", pgx.NamedArgs{"id": 1, "title": "named"}); err != nil {
		t.Fatal(err)
	}
	e.pgxMiss(pool, "named", q, pgx.NamedArgs{"id": 1})
	e.pgxHit(pool, "Perl 6", q, pgx.NamedArgs{"id": 3})

	// An exec mode in front is an option, not $1.
	const byID = "SELECT title FROM post WHERE id = $1"
	simple := pgx.QueryExecModeSimpleProtocol
	e.pgxMiss(pool, "Perl 6", byID, simple, 3)
	e.pgxHit(pool, "Perl 6", byID, simple, 3)
	if _, err := pool.Exec(ctx, "UPDATE post SET title = 'moded' WHERE id = $1", simple, 3); err != nil {
		t.Fatal(err)
	}
	e.pgxMiss(pool, "moded", byID, simple, 3)

	// A statement prepared in a transaction and run by name is analysed as
	// its SQL.
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Prepare(ctx, "retitle", "UPDATE post SET title = $1 WHERE id = $2"); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "retitle", "by name", 3)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.pgxMiss(pool, "by name", q, pgx.NamedArgs{"id": 3})
	e.pgxMiss(pool, "by name", byID, simple, 3)
	e.pgxHit(pool, "named", q, pgx.NamedArgs{"id": 1}) // analysed row by row, not as unknown SQL
}

func TestPoolLargeResultStreamsUncached(t *testing.T) {
	e := newEnv(t, func(o *cacheops.Options) { o.MaxRows = 10 })
	e.outOfBand("CREATE TABLE big AS SELECT g AS id FROM generate_series(1, 25) g")
	pool, _ := e.pools()
	for i := 0; i < 2; i++ {
		rows, err := pool.Query(context.Background(), "SELECT id FROM big ORDER BY id")
		if err != nil {
			t.Fatal(err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[int32])
		if err != nil || len(ids) != 25 || ids[24] != 25 {
			t.Fatalf("%v %v", ids, err)
		}
		if rows.CommandTag().String() != "SELECT 25" {
			t.Fatalf("tag %q", rows.CommandTag())
		}
	}
	if s := e.cache.Stats(); s.Hits != 0 || s.Uncached != 2 {
		t.Fatalf("stats %+v", s)
	}
	if n := pool.Stat().AcquiredConns(); n != 0 {
		t.Fatalf("%d connections still acquired", n)
	}
}

// A write on the unwrapped pool invalidates nothing (it is outside
// cacheops); InvalidateTables on the wrapper is the remedy.
func TestPoolWritesOutsideAndInvalidateTables(t *testing.T) {
	e := newFixture(t)
	pool, raw := e.pools()
	ctx := e.ctx
	const q = "SELECT title FROM post WHERE id = $1"
	e.pgxMiss(pool, "Cacheops", q, 1)
	if _, err := raw.Exec(ctx, "UPDATE post SET title = 'outside' WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	e.pgxHit(pool, "Cacheops", q, 1) // stale, as documented: the write was not made through cacheops
	if err := pool.InvalidateTables(ctx, "post"); err != nil {
		t.Fatal(err)
	}
	e.pgxMiss(pool, "outside", q, 1)
	if _, err := raw.Exec(ctx, "UPDATE post SET title = 'outside again' WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	if err := pool.InvalidateAll(ctx); err != nil {
		t.Fatal(err)
	}
	e.pgxMiss(pool, "outside again", q, 1)
}

// A pool on the simple protocol (PgBouncer's transaction mode) captures and
// invalidates the same: pgx inlines the arguments into the captured SQL.
func TestPoolOnTheSimpleProtocol(t *testing.T) {
	e := newFixture(t)
	pool, _ := e.pools(func(c *pgxpool.Config) { c.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol })
	ctx := e.ctx
	const q = "SELECT title FROM post WHERE id = $1"
	e.pgxMiss(pool, "Cacheops", q, 1)
	e.pgxMiss(pool, "Perl 6", q, 3)
	if _, err := pool.Exec(ctx, "UPDATE post SET title = $1 WHERE id = $2", "simple", 1); err != nil {
		t.Fatal(err)
	}
	e.pgxMiss(pool, "simple", q, 1)
	e.pgxHit(pool, "Perl 6", q, 3)
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "UPDATE post SET title = $1 WHERE id = $2", "simple tx", 3)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	e.pgxMiss(pool, "simple tx", q, 3)
	e.pgxHit(pool, "simple", q, 1)
}
