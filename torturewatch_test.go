package cacheops_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/cacheops/cacheops"
	"github.com/cacheops/cacheops/internal/testenv"
)

// tortureWatchBound is the promise for writes made outside cacheops: seen
// by every read that starts WatchMaxLag (the default, 1 s) after they
// committed.
const tortureWatchBound = cacheops.DefaultWatchMaxLag

// The torture workload on a PostgreSQL with wal_level = logical, plus
// writers that bypass cacheops (plain pgx: single rows, moves between
// groups, whole groups), with a watcher running as a sidecar. Mid-run the
// watcher stops for twice the bound and starts again (a handover): readers
// must stop taking hits meanwhile. The checker holds writes through
// cacheops to the strict promise and outside writes to the bound.
func TestTortureWatched(t *testing.T) {
	if os.Getenv("CACHEOPS_TORTURE_HELPER") != "" || os.Getenv("CACHEOPS_MONITOR_CHILD") != "" {
		return
	}
	events, stats, outside := tortureWatched(t, true)
	violations, reads := checkHistory(events, tortureWatchBound)
	for i, v := range violations {
		if i < 10 {
			t.Error(v)
		}
	}
	if len(violations) > 0 {
		t.Fatalf("%d reads older than the bound in %d", len(violations), reads)
	}
	if stats.Hits == 0 || stats.WatchBehind == 0 || outside < 50 || reads < 100 {
		t.Fatalf("the run proved little: %d reads, %d outside writes, stats %+v", reads, outside, stats)
	}
	t.Logf("%d reads checked, %d outside writes; stats %+v", reads, outside, stats)
}

// Without a watcher the same run reads outside writes stale: the bounded
// checker can fail. It is held to a tenth of the bound here: the workload's
// DO blocks run DDL through cacheops several times a second, and each
// invalidates the whole database, so a stale entry seldom lives a full
// bound.
func TestTortureWatchedCheckerCatchesMissingWatcher(t *testing.T) {
	if os.Getenv("CACHEOPS_TORTURE_HELPER") != "" || os.Getenv("CACHEOPS_MONITOR_CHILD") != "" {
		return
	}
	events, _, _ := tortureWatched(t, false)
	if violations, reads := checkHistory(events, tortureWatchBound/10); len(violations) == 0 {
		t.Fatalf("no violation in %d reads without a watcher: the checker proves nothing", reads)
	}
}

// tortureWatched runs the workload with outside writers, and a watcher if
// watched; it returns the history, this process's stats and the number of
// outside writes.
func tortureWatched(t *testing.T, watched bool) ([]tEvent, cacheops.Stats, int) {
	dsn := testenv.LogicalPostgres(t)
	setup, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	mustExec(t, setup, tortureSchema)
	setup.Close()
	prefix := testenv.Prefix(t, fmt.Sprintf("torturewatch_%d", time.Now().UnixNano()))
	dur := max(tortureDuration()/2, 8*time.Second)
	if !watched {
		dur = 4 * time.Second
	}
	log := &tortureLog{}
	var outside int
	var wg sync.WaitGroup
	cache := tortureWorkload(t, testRedisURL(), prefix, dsn, dur, 2*tortureBulkRows, log, func(ctx context.Context) {
		if watched {
			_, wdb := testenv.Open(t, cacheops.Options{RedisURL: testRedisURL(), Prefix: prefix}, dsn)
			wg.Add(1)
			go func() { // the sidecar, stopped for twice the bound mid-run
				defer wg.Done()
				for i, run := range []time.Duration{dur * 2 / 5, dur} {
					rctx, cancel := context.WithTimeout(ctx, run)
					if err := cacheops.Watch(rctx, wdb, dsn, cacheops.WatchOptions{}); err != nil {
						t.Errorf("Watch: %v", err)
					}
					cancel()
					if i == 0 {
						time.Sleep(2 * tortureWatchBound)
					}
				}
			}()
		}
		direct, err := sql.Open("pgx", dsn)
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer direct.Close()
			r := rand.New(rand.NewPCG(7, 7))
			for ctx.Err() == nil {
				if err := outsideWrite(direct, r, log); err != nil && !retryable(err) && ctx.Err() == nil {
					t.Errorf("outside write: %v", err)
					return
				}
				outside++
				time.Sleep(time.Duration(r.IntN(4000)) * time.Microsecond)
			}
		}()
		// A reader of its own of the few bulk rows the outside writer
		// changes, which writes through cacheops seldom touch (a stale entry
		// would stay).
		_, rdb := testenv.Open(t, cacheops.Options{RedisURL: testRedisURL(), Prefix: prefix}, dsn)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				id := 1001 + i%outsideBulkRows
				start := time.Now().UnixNano()
				rs, err := rdb.Query("SELECT id, grp, version FROM torture_bulk WHERE id = $1", id)
				if err != nil {
					t.Errorf("bulk read: %v", err)
					return
				}
				got, err := scanRows(rs)
				if err != nil {
					t.Errorf("bulk read: %v", err)
					return
				}
				log.add(tEvent{Kind: "r", Query: "bulk point", Arg: -1, Start: start, End: time.Now().UnixNano(), Rows: got})
				time.Sleep(time.Millisecond)
			}
		}()
	})
	wg.Wait()
	return log.snapshot(), cache.Stats(), outside
}

// outsideBulkRows are the bulk rows the outside writer changes.
const outsideBulkRows = 5

// outsideWrite changes rows with plain pgx, behind cacheops' back, and logs
// what committed as an outside write.
func outsideWrite(direct *sql.DB, r *rand.Rand, log *tortureLog) error {
	id := r.IntN(tortureRows) + 1
	var q string
	var args []any
	kind := "outside update"
	switch r.IntN(4) {
	case 3:
		kind = "outside bulk update"
		q, args = "UPDATE torture_bulk SET version = version + 1 WHERE id = $1", []any{1001 + r.IntN(outsideBulkRows)}
	case 0:
		q, args = "UPDATE torture SET version = version + 1 WHERE id = $1", []any{id}
	case 1:
		kind = "outside move"
		q, args = "UPDATE torture SET grp = $2, version = version + 1 WHERE id = $1", []any{id, r.IntN(4)}
	default:
		kind = "outside group update"
		q, args = "UPDATE torture SET version = version + 1 WHERE grp = $1", []any{r.IntN(4)}
	}
	start := time.Now().UnixNano()
	rs, err := direct.Query(q+bump, args...)
	if err != nil {
		return err
	}
	rows, err := scanRows(rs)
	if err != nil {
		return err
	}
	log.add(tEvent{Kind: "w", Query: kind, Start: start, End: time.Now().UnixNano(), Rows: rows})
	return nil
}
