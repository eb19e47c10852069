package cacheops_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/cacheops/cacheops"
)

// The torture workload through pgx's own interface (a WrapPool pool next to
// the database/sql one, in both processes): reads in and out of
// transactions, and writes by every pgx path — Exec, Query with RETURNING,
// batches (their effects applied at Close), transactions with savepoints.

func scanPgxRows(rs pgx.Rows, err error) ([]tRow, error) {
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rs, func(row pgx.CollectableRow) (tRow, error) {
		var r tRow
		err := row.Scan(&r.ID, &r.Grp, &r.Ver)
		return r, err
	})
}

func tortureReadPgx(ctx context.Context, pool *cacheops.Pool, r *rand.Rand, log *tortureLog) error {
	q := tortureQueries[r.IntN(len(tortureQueries))]
	if q.name == "aggregate" {
		return nil
	}
	k := r.IntN(1000)
	start := time.Now().UnixNano()
	var got []tRow
	var err error
	if r.IntN(6) == 0 {
		// Unchecked, closed after one row: a miss reads the rest into
		// its recording and stores it, and later hits of it are checked.
		rs, err := pool.Query(ctx, q.sql, q.args(k)...)
		if err != nil {
			return err
		}
		rs.Next()
		rs.Close()
		return rs.Err()
	}
	if r.IntN(5) == 0 { // a read-only transaction: clean, so it reads the cache
		err = pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			got, err = scanPgxRows(tx.Query(ctx, q.sql, q.args(k)...))
			return err
		})
	} else {
		got, err = scanPgxRows(pool.Query(ctx, q.sql, q.args(k)...))
	}
	if err != nil {
		return fmt.Errorf("pgx %s: %w", q.sql, err)
	}
	arg := -1
	if q.grp {
		arg = q.args(k)[0].(int)
	}
	log.add(tEvent{Kind: "r", Query: "pgx " + q.name, Arg: arg, Start: start, End: time.Now().UnixNano(), Rows: got})
	return nil
}

// tortureWritePgx writes once through pgx.
func tortureWritePgx(ctx context.Context, pool *cacheops.Pool, r *rand.Rand, log *tortureLog) error {
	id := r.IntN(tortureRows) + 1
	start := time.Now().UnixNano()
	kind := "pgx write"
	commit := func(rows []tRow) {
		log.add(tEvent{Kind: "w", Query: kind, Start: start, End: time.Now().UnixNano(), Rows: rows})
		log.count(kind)
	}
	switch r.IntN(5) {
	case 0: // a single-row update through Query
		kind = "pgx update"
		rows, err := scanPgxRows(pool.Query(ctx, "UPDATE torture SET version = version + 1 WHERE id = $1"+bump, id))
		if err == nil {
			commit(rows)
		}
		return err
	case 1: // a move through Exec, of the version read just before
		kind = "pgx move"
		var ver int
		if err := pool.QueryRow(ctx, "SELECT version FROM torture WHERE id = $1 FOR SHARE", id).Scan(&ver); err != nil {
			return err
		}
		grp := r.IntN(4)
		tag, err := pool.Exec(ctx, "UPDATE torture SET grp = $2, version = version + 1 WHERE id = $1 AND version = $3", id, grp, ver)
		if err == nil && tag.RowsAffected() == 1 {
			// Only this statement can have made version ver+1.
			commit([]tRow{{ID: id, Grp: grp, Ver: ver + 1}})
		}
		return err
	case 2: // a batch of two updates, one of a whole group
		kind = "pgx batch"
		b := &pgx.Batch{}
		var rows []tRow
		collect := func(rs pgx.Rows) error {
			got, err := scanPgxRows(rs, nil)
			rows = append(rows, got...)
			return err
		}
		b.Queue("UPDATE torture SET version = version + 1 WHERE id = $1"+bump, id).Query(collect)
		b.Queue("UPDATE torture SET version = version + 1 WHERE grp = $1"+bump, r.IntN(4)).Query(collect)
		if err := pool.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		commit(lastPerID(rows))
		return nil
	default: // a transaction: commit, rollback, or a savepoint rolled back
		kind = "pgx transaction"
		var rows []tRow
		rollback := r.IntN(3) == 0
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			upd := func(q pgxDB, id int) error {
				got, err := scanPgxRows(q.Query(ctx, "UPDATE torture SET version = version + 1 WHERE id = $1"+bump, id))
				rows = append(rows, got...)
				return err
			}
			if err := upd(tx, id); err != nil {
				return err
			}
			if r.IntN(2) == 0 {
				sp, err := tx.Begin(ctx)
				if err != nil {
					return err
				}
				if _, err := sp.Exec(ctx, "UPDATE torture SET version = version + 1 WHERE id = $1", id%tortureRows+1); err != nil {
					return err
				}
				if err := sp.Rollback(ctx); err != nil {
					return err
				}
			}
			if err := upd(tx, (id+3)%tortureRows+1); err != nil {
				return err
			}
			if rollback {
				return errRolledBack
			}
			return nil
		})
		switch {
		case rollback && err == errRolledBack:
			return nil // nothing committed
		case err != nil:
			return err
		}
		commit(lastPerID(rows))
		return nil
	}
}

var errRolledBack = fmt.Errorf("rolled back on purpose")
