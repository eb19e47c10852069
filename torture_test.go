package cacheops_test

import (
	"bufio"
	"cmp"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops"
	"github.com/cacheops/cacheops/lua"
)

// The torture test: many goroutines in two OS processes read and write a
// small hot table through cacheops, while a goroutine deletes random cache
// keys and Redis is restarted mid-run. Every write bumps a row's version and
// logs when it committed; every read logs what it saw. The checker then
// verifies the promise: a version committed (Commit or the autocommit
// statement returned) before a read started is visible to that read, and a
// row that was in a group when the read started, and not written while it
// ran, is in that group's result. CACHEOPS_TORTURE sets the duration
// (`make torture`); CI runs a short one.

const tortureRows = 24

// tortureBulkRows rows of torture_bulk (ids from 1001) are rewritten whole
// by one statement: with MaxCapturedRows above it, read by three schemes,
// that write deletes over 10,000 stamps at once.
const tortureBulkRows = 4000

// tortureSchema: the hot table (a note column marks writes whose outcome the
// client does not learn), the bulk table, a procedure that commits and
// then fails, and a table whose column's assignment cast updates the hot
// table (a write the SQL does not show).
var tortureSchema = fmt.Sprintf(`CREATE TABLE torture (id int PRIMARY KEY, grp int NOT NULL, version int NOT NULL, note text);
INSERT INTO torture SELECT g, g %% 4, 0 FROM generate_series(1, %d) g;
CREATE TABLE torture_bulk (id int PRIMARY KEY, grp int NOT NULL, version int NOT NULL, tag int UNIQUE NOT NULL);
INSERT INTO torture_bulk SELECT g, g %% 4, 0, g * 7 FROM generate_series(1001, %d) g;
CREATE TABLE torture_ddl (x int);
CREATE PROCEDURE torture_bump(target int) LANGUAGE plpgsql AS $$
DECLARE g int; v int;
BEGIN
  UPDATE torture SET version = version + 1 WHERE id = target RETURNING grp, version INTO g, v;
  COMMIT;
  RAISE EXCEPTION 'committed %% %% %%', target, g, v;
END $$;
CREATE TYPE torture_touch AS (id int, grp int, version int);
CREATE FUNCTION torture_touch(target int) RETURNS torture_touch LANGUAGE sql VOLATILE AS
  'UPDATE torture SET version = version + 1 WHERE id = target RETURNING id, grp, version';
CREATE CAST (int AS torture_touch) WITH FUNCTION torture_touch(int) AS ASSIGNMENT;
CREATE TABLE torture_side (t torture_touch)`, tortureRows, 1000+tortureBulkRows)

// tortureAmbiguousDelay is the torture caches' AmbiguousDelay: a write whose
// outcome its client did not learn is promised only after it.
const tortureAmbiguousDelay = 100 * time.Millisecond

type tRow struct{ ID, Grp, Ver int }

type tEvent struct {
	Kind  string `json:"k"` // r: read, w: committed write; s, i, x: a store, an invalidation or Redis error, a disruption (to explain a stale read)
	Query string `json:"q"`
	Arg   int    `json:"a"`
	Start int64  `json:"s"`
	End   int64  `json:"e"`
	Rows  []tRow `json:"r"`
	How   string `json:"h,omitempty"` // a read: how it was served (hit or miss, and its key)
	Proc  string `json:"p,omitempty"` // the process: "" this one, "helper" the second
}

type tortureLog struct {
	mu     sync.Mutex
	events []tEvent
	// kinds counts the writes of each kind that committed.
	kinds map[string]int
}

func (l *tortureLog) count(kind string) {
	l.mu.Lock()
	if l.kinds == nil {
		l.kinds = map[string]int{}
	}
	l.kinds[kind]++
	l.mu.Unlock()
}

// snapshot copies the events: late invalidations may still add some.
func (l *tortureLog) snapshot() []tEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.events)
}

func (l *tortureLog) add(e tEvent) {
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func tortureDuration() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("CACHEOPS_TORTURE")); err == nil {
		return d
	}
	return 12 * time.Second
}

func TestTorture(t *testing.T) {
	if os.Getenv("CACHEOPS_TORTURE_HELPER") != "" {
		return // this process is the second one, driven by tortureHelper
	}
	srv := startRedis(t)
	runTorture(t, tortureRun{url: srv.url(), disrupt: srv.restart, disrupted: func() bool { return srv.restarts.Load() == 1 }})
}

// The same on a 3-master Redis Cluster, one master restarted mid-run (it
// comes back empty: its stamps are lost, its slots unserved meanwhile).
func TestTortureOnCluster(t *testing.T) {
	if os.Getenv("CACHEOPS_TORTURE_HELPER") != "" || os.Getenv("CACHEOPS_MONITOR_CHILD") != "" {
		return
	}
	cluster := startCluster(t)
	srv := cluster.nodes[1]
	runTorture(t, tortureRun{url: cluster.url(), disrupt: srv.restart, disrupted: func() bool { return srv.restarts.Load() == 1 }})
}

// And on a cluster with a replica per master, one master killed mid-run:
// its replica is promoted. Invalidations wait for a replica (WaitReplicas),
// so the promoted replica holds no stamp its master had deleted.
func TestTortureOnClusterFailover(t *testing.T) {
	if os.Getenv("CACHEOPS_TORTURE_HELPER") != "" || os.Getenv("CACHEOPS_MONITOR_CHILD") != "" {
		return
	}
	cluster := startClusterWithReplicas(t)
	t.Setenv("CACHEOPS_TORTURE_WAIT_REPLICAS", "1") // both processes
	var killed atomic.Bool
	promoted := func() bool {
		rc := cluster.replicas[1].client()
		defer rc.Close()
		return strings.Contains(rc.Info(context.Background(), "replication").Val(), "role:master")
	}
	runTorture(t, tortureRun{url: cluster.url(), disrupt: func(t *testing.T) {
		cluster.nodes[1].stop()
		killed.Store(true)
	}, disrupted: func() bool { return killed.Load() && promoted() }})
}

// tortureRun is a torture run: the workload in two processes against the
// Redis at url, disrupted once mid-run (disrupted reports whether the
// disruption happened as meant).
type tortureRun struct {
	url       string
	disrupt   func(*testing.T)
	disrupted func() bool
	// mainURL is this process' way to the Redis at url (a proxy), if any.
	mainURL string
	// otherBound is how late a write of one process is promised to the
	// other's reads (their local layer's MaxStaleness).
	otherBound time.Duration
	// during disrupts more while the run lasts; tweaks change this
	// process' cache.
	during func(ctx context.Context, log *tortureLog)
	tweaks []tortureTweak
	// dur: zero, tortureDuration().
	dur time.Duration
	// wantStale: the run is meant to be stale (its checker must say so).
	wantStale bool
	// retries: how many times a short run that proved too little (a run
	// meant to be stale that found none, or one that served no hit) is
	// made again, twice as long: on a loaded machine a short run may not
	// get the chances it needs (local hits, say). A stale read found is
	// never retried away.
	retries int
}

// runTorture makes the run and checks the history.
func runTorture(t *testing.T, run tortureRun) {
	e := newEnv(t)
	e.outOfBand(tortureSchema)
	prefix := fmt.Sprintf("torture:%d:", time.Now().UnixNano())
	dur := run.dur
	if dur == 0 {
		dur = tortureDuration()
	}
	url := run.url

	// The second process: this test binary again, running the same workload.
	logPath := filepath.Join(t.TempDir(), "helper.jsonl")
	helper := exec.Command(os.Args[0], "-test.run=^TestTortureHelper$", "-test.count=1")
	helper.Env = append(os.Environ(), "CACHEOPS_TORTURE_HELPER=1", "CACHEOPS_TORTURE_LOG="+logPath,
		"CACHEOPS_TORTURE_REDIS="+url, "CACHEOPS_TORTURE_PREFIX="+prefix,
		"CACHEOPS_TORTURE_SCHEMA="+e.schema, "CACHEOPS_TORTURE_FOR="+dur.String(),
		// The second process invalidates writes past 5 rows whole.
		"CACHEOPS_TORTURE_MAX_CAPTURED=5")
	helper.Stdout, helper.Stderr = os.Stderr, os.Stderr
	if err := helper.Start(); err != nil {
		t.Fatal(err)
	}

	log := &tortureLog{}
	mainURL := cmp.Or(run.mainURL, url)
	cache := tortureWorkload(t, mainURL, prefix, withSearchPath(testDSN(), e.schema), dur, 2*tortureBulkRows, log, func(ctx context.Context) {
		go deleteKeys(ctx, url, prefix)
		if run.during != nil {
			go run.during(ctx, log)
		}
		go func() { // disrupt Redis once, mid-run
			select {
			case <-time.After(dur * 2 / 5):
				now := time.Now().UnixNano()
				run.disrupt(t)
				log.add(tEvent{Kind: "x", Query: "Redis disrupted", Start: now, End: time.Now().UnixNano()})
			case <-ctx.Done():
			}
		}()
	}, run.tweaks...)
	if err := helper.Wait(); err != nil {
		t.Fatalf("second process: %v", err)
	}
	events := append(log.snapshot(), readLog(t, logPath)...)
	violations, reads := checkHistoryBounds(events, 0, run.otherBound)
	if run.wantStale {
		if len(violations) == 0 && run.retries > 0 {
			t.Logf("no stale read found in %d reads (stats %+v): again, for %s", reads, cache.Stats(), 2*dur)
			run.retries, run.dur = run.retries-1, 2*dur
			runTorture(t, run)
			return
		}
		if len(violations) == 0 {
			t.Fatalf("no stale read found in %d reads of a run meant to be stale: the checker proves nothing (stats %+v)", reads, cache.Stats())
		}
		t.Logf("%d stale reads found in %d, as meant; the first: %s", len(violations), reads, violations[0])
		return
	}
	for i, v := range violations {
		if i < 10 {
			t.Error(v)
		}
	}
	if len(violations) > 0 {
		t.Fatalf("%d stale reads in %d", len(violations), reads)
	}
	s := cache.Stats()
	// Either process may have been busy with PostgreSQL alone for the second
	// Redis was away; between them they must have met the outage.
	var helperStats cacheops.Stats
	if b, err := os.ReadFile(logPath + ".stats"); err != nil || json.Unmarshal(b, &helperStats) != nil {
		t.Fatalf("the second process's stats: %v", err)
	}
	if !run.disrupted() || s.RedisErrors+helperStats.RedisErrors == 0 {
		t.Fatalf("Redis was not disrupted under load: stats %+v and %+v", s, helperStats)
	}
	if s.Hits+s.LocalHits == 0 || s.Invalidations == 0 || reads < 100 {
		if run.retries > 0 {
			t.Logf("the run proved little: %d reads checked, stats %+v: again, for %s", reads, s, 2*dur)
			run.retries, run.dur = run.retries-1, 2*dur
			runTorture(t, run)
			return
		}
		t.Fatalf("the run proved little: %d reads checked, stats %+v", reads, s)
	}
	if run.otherBound > 0 && s.LocalHits+helperStats.LocalHits == 0 {
		// A short run on a loaded machine (CI's 12 s, a Redis restart, the
		// rare writes forced first) may see few hits of any kind; a long
		// one (make torture) must have served local ones. The checker's
		// power is proven by TestTortureLocalCheckerCatchesSkippedHeartbeat.
		if dur >= time.Minute {
			t.Fatalf("a local run served no local hits: stats %+v and %+v", s, helperStats)
		}
		t.Logf("this short local run served no local hits: stats %+v and %+v", s, helperStats)
	}
	// The rare kinds of write are forced early; a cluster run, slower, may
	// see one of them not commit (an abandoned write given up in time): the
	// single-node run holds them.
	for _, kind := range []string{"bulk", "CALL", "DO", "abandoned", "cast"} {
		if log.kinds[kind] == 0 && !strings.Contains(url, "addr=") {
			t.Errorf("no %s write committed in this process: %v", kind, log.kinds)
		}
	}
	t.Logf("%d reads checked over %s in two processes; this process: %+v, writes %v", reads, dur, s, log.kinds)

	// Afterwards every query read through cacheops equals the database.
	db, err := cache.OpenDB(withSearchPath(testDSN(), e.schema))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range tortureQueries {
		if got, want := rows(t, db, q.sql, q.args(3)...), rows(t, e.direct, q.sql, q.args(3)...); got != want {
			t.Fatalf("after the run %s: cached %q, database %q", q.sql, got, want)
		}
	}
}

// The checker must catch the stale reads of a cache that does not invalidate.
func TestTortureCheckerCatchesMissingInvalidation(t *testing.T) {
	if os.Getenv("CACHEOPS_TORTURE_HELPER") != "" {
		return
	}
	t.Parallel()
	e := newEnv(t)
	e.outOfBand(tortureSchema)
	log := &tortureLog{}
	tortureWorkload(t, testRedisURL(), fmt.Sprintf("torture-off:%d:", time.Now().UnixNano()), withSearchPath(testDSN(), e.schema), 3*time.Second, 0, log,
		func(context.Context) {}, tortureTweak{cache: func(c *cacheops.Cache) { cacheops.DisableInvalidationForTesting(c, true) }})
	if violations, reads := checkHistory(log.snapshot(), 0); len(violations) == 0 {
		t.Fatalf("no violation found in %d reads with invalidation off: the checker proves nothing", reads)
	}
}

// TestTortureHelper is the second process of TestTorture; run alone it does
// nothing.
func TestTortureHelper(t *testing.T) {
	if os.Getenv("CACHEOPS_TORTURE_HELPER") == "" {
		return
	}
	dur, _ := time.ParseDuration(os.Getenv("CACHEOPS_TORTURE_FOR"))
	maxCaptured, _ := strconv.Atoi(os.Getenv("CACHEOPS_TORTURE_MAX_CAPTURED"))
	log := &tortureLog{}
	cache := tortureWorkload(t, os.Getenv("CACHEOPS_TORTURE_REDIS"), os.Getenv("CACHEOPS_TORTURE_PREFIX"),
		withSearchPath(testDSN(), os.Getenv("CACHEOPS_TORTURE_SCHEMA")), dur, maxCaptured, log, func(context.Context) {})
	stats, _ := json.Marshal(cache.Stats())
	if err := os.WriteFile(os.Getenv("CACHEOPS_TORTURE_LOG")+".stats", stats, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(os.Getenv("CACHEOPS_TORTURE_LOG"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	for _, ev := range log.snapshot() {
		b, _ := json.Marshal(ev)
		w.Write(append(b, '\n'))
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

type tortureQuery struct {
	name string
	sql  string
	args func(k int) []any
	grp  bool // the argument is a group: membership is checked
}

var tortureQueries = []tortureQuery{
	{"point", "SELECT id, grp, version FROM torture WHERE id = $1", func(k int) []any { return []any{k%tortureRows + 1} }, false},
	{"in", "SELECT id, grp, version FROM torture WHERE id IN ($1, $2, $3) ORDER BY id",
		func(k int) []any { return []any{k%tortureRows + 1, (k+5)%tortureRows + 1, (k+11)%tortureRows + 1} }, false},
	{"group", "SELECT id, grp, version FROM torture WHERE grp = $1 ORDER BY id", func(k int) []any { return []any{k % 4} }, true},
	{"any", "SELECT id, grp, version FROM torture WHERE id = ANY($1) ORDER BY id",
		func(k int) []any { return []any{[]int64{int64(k%tortureRows + 1), int64((k+7)%tortureRows + 1)}} }, false},
	{"join", "SELECT a.id, a.grp, a.version FROM torture a JOIN torture b ON b.grp = a.grp WHERE b.id = $1 ORDER BY a.id",
		func(k int) []any { return []any{k%tortureRows + 1} }, false},
	{"range", "SELECT id, grp, version FROM torture WHERE id > $1 ORDER BY id", func(k int) []any { return []any{k % tortureRows} }, false},
	{"aggregate", "SELECT grp, count(*), sum(version) FROM torture GROUP BY grp ORDER BY grp", func(int) []any { return nil }, false},
	// The bulk table, read by three schemes.
	{"bulk point", "SELECT id, grp, version FROM torture_bulk WHERE id = $1", func(k int) []any { return []any{1001 + k%tortureBulkRows} }, false},
	{"bulk tag", "SELECT id, grp, version FROM torture_bulk WHERE tag = $1", func(k int) []any { return []any{7 * (1001 + (k*13)%tortureBulkRows)} }, false},
	{"bulk pair", "SELECT id, grp, version FROM torture_bulk WHERE id = $1 AND grp = $2",
		func(k int) []any { id := 1001 + (k*7)%tortureBulkRows; return []any{id, id % 4} }, false},
}

// tortureWorkload runs readers and writers against the table until dur has
// passed, logging every read and committed write.
func tortureWorkload(t *testing.T, redisURL, prefix, dsn string, dur time.Duration, maxCaptured int, log *tortureLog,
	extra func(context.Context), tweaks ...tortureTweak) *cacheops.Cache {
	rdb := testRedisClient(redisURL, true) // let the outage show
	t.Cleanup(func() { rdb.Close() })
	waitReplicas, _ := strconv.Atoi(os.Getenv("CACHEOPS_TORTURE_WAIT_REPLICAS"))
	opts := cacheops.Options{Redis: rdb, Prefix: prefix, RedisTimeout: time.Second,
		MaxCapturedRows: maxCaptured, AmbiguousDelay: tortureAmbiguousDelay, WaitReplicas: waitReplicas, Hooks: tortureHooks(log)}
	if d, err := time.ParseDuration(os.Getenv("CACHEOPS_TORTURE_LOCAL")); err == nil {
		opts.Local.MaxStaleness = d // the second process of a local run
	}
	for _, tw := range tweaks {
		if tw.opts != nil {
			tw.opts(&opts)
		}
	}
	cache, err := cacheops.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	readOnly := false
	for _, tw := range tweaks {
		if tw.cache != nil {
			tw.cache(cache)
		}
		readOnly = readOnly || tw.readOnly
	}
	db, err := cache.OpenDB(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(16)
	direct, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { direct.Close() })
	raw, err := pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(raw.Close)
	pool := cache.WrapPool(raw)
	ctx, cancel := context.WithTimeout(context.Background(), dur)
	defer cancel()
	extra(ctx)
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	// pgx's own interface: two readers and a writer.
	for i := 0; i < 3; i++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 3))
			for ctx.Err() == nil {
				var err error
				if seed == 200 && readOnly {
					return
				}
				if seed == 200 {
					if err = tortureWritePgx(ctx, pool, r, log); retryable(err) || ctx.Err() != nil {
						err = nil
					}
				} else if err = tortureReadPgx(ctx, pool, r, log); ctx.Err() != nil {
					err = nil
				}
				if err != nil {
					errs <- err
					return
				}
			}
		}(uint64(i + 200))
	}
	for i := 0; i < 6; i++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 1))
			for ctx.Err() == nil {
				if err := tortureRead(db, r, log); err != nil {
					errs <- err
					return
				}
			}
		}(uint64(i))
	}
	for i := 0; i < 3 && !readOnly; i++ {
		wg.Add(1)
		go func(seed uint64) {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, 2))
			for step := 0; ctx.Err() == nil; step++ {
				if seed != 100 {
					step = -1 // only the first writer runs the rare kinds first
				}
				if err := tortureWrite(db, direct, r, log, step, !strings.Contains(redisURL, "addr=")); err != nil && !retryable(err) {
					errs <- err
					return
				}
			}
		}(uint64(i + 100))
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	return cache
}

// tortureTweak changes a torture process' options, or its cache once made;
// readOnly makes it write nothing (its reads meet only the other's writes).
type tortureTweak struct {
	opts     func(*cacheops.Options)
	cache    func(*cacheops.Cache)
	readOnly bool
}

// retryable: PostgreSQL gave up on the write (deadlock, serialization);
// nothing of it committed.
func retryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

func scanRows(rs *sql.Rows) ([]tRow, error) {
	defer rs.Close()
	var out []tRow
	for rs.Next() {
		var r tRow
		if err := rs.Scan(&r.ID, &r.Grp, &r.Ver); err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rs.Err()
}

func tortureRead(db *sql.DB, r *rand.Rand, log *tortureLog) error {
	q := tortureQueries[r.IntN(len(tortureQueries))]
	k := r.IntN(1000)
	start := time.Now().UnixNano()
	var rs *sql.Rows
	var err error
	var tx *sql.Tx
	how := new(string)
	ctx := context.WithValue(context.Background(), howKey{}, how)
	if r.IntN(5) == 0 { // a read-only transaction: clean, so it reads the cache
		if tx, err = db.Begin(); err != nil {
			return err
		}
		*how = "tx"
		rs, err = tx.QueryContext(ctx, q.sql, q.args(k)...)
	} else {
		rs, err = db.QueryContext(ctx, q.sql, q.args(k)...)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", q.sql, err)
	}
	if q.name == "aggregate" || r.IntN(6) == 0 {
		// Unchecked, closed early: a miss reads the rest into its
		// recording and stores it, and later hits of it are checked.
		rs.Next()
		rs.Close()
		if tx != nil {
			return tx.Commit()
		}
		return nil
	}
	got, err := scanRows(rs)
	if err != nil {
		return err
	}
	if tx != nil {
		if err := tx.Commit(); err != nil {
			return err
		}
	}
	arg := -1
	if q.grp {
		arg = q.args(k)[0].(int)
	}
	log.add(tEvent{Kind: "r", Query: q.name, Arg: arg, Start: start, End: time.Now().UnixNano(), Rows: got, How: *how})
	return nil
}

const bump = " RETURNING id, grp, version"

// tortureWrite writes once; step is the writer's count of writes, so that
// the rare kinds of write run at least once (steps 0 to 3), or -1. Writes
// through a cast, which invalidate the whole database, run on a single
// Redis only (7% of writes there): on a cluster that is 256 buckets each
// time, and the cluster runs would see too few hits to prove anything.
func tortureWrite(db, direct *sql.DB, r *rand.Rand, log *tortureLog, step int, single bool) error {
	id := r.IntN(tortureRows) + 1
	start := time.Now().UnixNano()
	kind := "write"
	commit := func(rows []tRow) {
		log.add(tEvent{Kind: "w", Query: kind, Start: start, End: time.Now().UnixNano(), Rows: rows})
	}
	returning := func(q string, args ...any) error { // q returns id, grp, version
		rs, err := db.Query(q, args...)
		if err != nil {
			return err
		}
		rows, err := scanRows(rs)
		if err == nil {
			commit(rows)
		}
		return err
	}
	autocommit := func(q string, args ...any) error { return returning(q+bump, args...) }
	n := r.IntN(200)
	switch step {
	case 0, 1, 2, 3:
		n = []int{0, 1, 1, 2}[step]
	}
	switch {
	case n == 0: // all of the bulk table in one statement
		log.count("bulk")
		kind = "bulk"
		return autocommit("UPDATE torture_bulk SET version = version + 1")
	case n < 2: // a procedure, or a DO block running DDL, that commits and then fails
		return committedThenFailed(db, id, step == 2 || step != 1 && r.IntN(2) == 0, log)
	case n < 12: // a group update whose client gives up while reading its rows
		return abandonedWrite(db, direct, r, log, step != 3 && r.IntN(2) == 0)
	case n < 30 && single: // an insert elsewhere whose assignment cast updates a row
		kind = "cast"
		log.count("cast")
		return returning("INSERT INTO torture_side VALUES ($1::int) RETURNING (t).id, (t).grp, (t).version", id)
	}
	switch r.IntN(6) {
	case 0: // a single-row update
		kind = "update"
		return autocommit("UPDATE torture SET version = version + 1 WHERE id = $1", id)
	case 1: // move a row to another group
		kind = "move"
		return autocommit("UPDATE torture SET grp = $2, version = version + 1 WHERE id = $1", id, r.IntN(4))
	case 2: // a mass update of a group
		kind = "group update"
		return autocommit("UPDATE torture SET version = version + 1 WHERE grp = $1", r.IntN(4))
	default: // a transaction: commit, rollback, or savepoint rolled back
		kind = "transaction"
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		var rows []tRow
		upd := func(id int) error {
			rs, err := tx.Query("UPDATE torture SET version = version + 1 WHERE id = $1"+bump, id)
			if err != nil {
				return err
			}
			got, err := scanRows(rs)
			rows = append(rows, got...)
			return err
		}
		if err := upd(id); err != nil {
			tx.Rollback()
			return err
		}
		switch r.IntN(3) {
		case 0:
			if err := tx.Rollback(); err != nil {
				return err
			}
			return nil // nothing committed
		case 1:
			other := id%tortureRows + 1
			for _, q := range []string{"SAVEPOINT s", "UPDATE torture SET version = version + 1 WHERE id = " + strconv.Itoa(other), "ROLLBACK TO SAVEPOINT s"} {
				if _, err := tx.Exec(q); err != nil {
					tx.Rollback()
					return err
				}
			}
		}
		if err := upd((id+3)%tortureRows + 1); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		commit(lastPerID(rows))
	}
	return nil
}

// committedThenFailed runs a write that commits and then raises: its error
// says what it committed.
func committedThenFailed(db *sql.DB, id int, do bool, log *tortureLog) error {
	start := time.Now().UnixNano()
	q := fmt.Sprintf("CALL torture_bump(%d)", id)
	if do {
		q = fmt.Sprintf(`DO $$DECLARE g int; v int; BEGIN
  UPDATE torture SET version = version + 1 WHERE id = %d RETURNING grp, version INTO g, v;
  EXECUTE format('ALTER TABLE torture_ddl ALTER COLUMN x SET DEFAULT %%L', v);
  COMMIT;
  RAISE EXCEPTION 'committed %% %% %%', %d, g, v;
END$$`, id, id)
	}
	_, err := db.Exec(q)
	var pgErr *pgconn.PgError
	var row tRow
	if !errors.As(err, &pgErr) {
		return fmt.Errorf("%s: want its error after the commit, got %v", q, err)
	}
	if _, serr := fmt.Sscanf(pgErr.Message, "committed %d %d %d", &row.ID, &row.Grp, &row.Ver); serr != nil {
		return err // it failed before committing (a deadlock): nothing to log
	}
	log.add(tEvent{Kind: "w", Query: strings.Fields(q)[0], Start: start, End: time.Now().UnixNano(), Rows: []tRow{row}})
	log.count(strings.Fields(q)[0])
	return nil
}

// abandonedWrite updates a group and gives up on it part way, by a short
// deadline or by closing its rows early: the client may not learn whether
// it committed. The rows that carry its note afterwards are what it
// committed; it is promised from when PostgreSQL settled it, and no earlier
// than AmbiguousDelay after the client gave up.
func abandonedWrite(db, direct *sql.DB, r *rand.Rand, log *tortureLog, deadline bool) error {
	note := lua.NewToken()
	start := time.Now().UnixNano()
	ctx, cancel := context.WithCancel(context.Background())
	if deadline {
		ctx, cancel = context.WithTimeout(ctx, time.Duration(500+r.IntN(8000))*time.Microsecond)
	}
	defer cancel()
	q := fmt.Sprintf("UPDATE torture SET version = version + 1, note = '%s' WHERE grp = $1"+bump, note)
	rs, err := db.QueryContext(ctx, q, r.IntN(4))
	if err == nil {
		rs.Next()
		rs.Close() // the rows not read are read by cacheops, unless the deadline ends it first
	}
	gaveUp := time.Now()
	for i := 0; ; i++ { // wait until PostgreSQL is done with it
		var running int
		if err := direct.QueryRow("SELECT count(*) FROM pg_stat_activity WHERE query LIKE '%' || $1 || '%' AND state <> 'idle' AND pid <> pg_backend_pid()", note).Scan(&running); err != nil {
			return err
		}
		if running == 0 {
			break
		}
		if i > 1000 {
			return fmt.Errorf("the abandoned write %s never ended", note)
		}
		time.Sleep(time.Millisecond)
	}
	rs, err = direct.Query("SELECT id, grp, version FROM torture WHERE note = $1", note)
	if err != nil {
		return err
	}
	rows, err := scanRows(rs)
	if err != nil || len(rows) == 0 {
		return err
	}
	log.count("abandoned")
	end := time.Now()
	if promised := gaveUp.Add(tortureAmbiguousDelay + 50*time.Millisecond); end.Before(promised) {
		end = promised
	}
	log.add(tEvent{Kind: "w", Query: "abandoned", Start: start, End: end.UnixNano(), Rows: rows})
	return nil
}

func lastPerID(rows []tRow) []tRow {
	m := map[int]tRow{}
	for _, r := range rows {
		if r.Ver > m[r.ID].Ver {
			m[r.ID] = r
		}
	}
	out := make([]tRow, 0, len(m))
	for _, r := range m {
		out = append(out, r)
	}
	return out
}

// checkHistory checks every read against every committed write.
func checkHistory(events []tEvent, outsideBound time.Duration) (violations []string, reads int) {
	return checkHistoryBounds(events, outsideBound, 0)
}

// checkHistoryBounds checks every read against every committed write; a
// write made by another process than the read's is promised to it
// otherBound after it returned (a local layer's MaxStaleness).
func checkHistoryBounds(events []tEvent, outsideBound, otherBound time.Duration) (violations []string, reads int) {
	byID := map[int][]tWrite{}
	for _, ev := range events {
		if ev.Kind == "w" {
			for _, r := range ev.Rows {
				byID[r.ID] = append(byID[r.ID], tWrite{ev.Start, ev.End, r, ev.Query, ev.Proc})
			}
		}
	}
	for id := range byID {
		sort.Slice(byID[id], func(i, j int) bool { return byID[id][i].end < byID[id][j].end })
	}
	// promised is when a write is promised to a reader in process proc:
	// when it returned, or for a write made outside cacheops (its kind
	// starts with "outside") outsideBound later (the watcher's bound), and
	// otherBound later still for a write of another process.
	promised := func(w tWrite, proc string) int64 {
		end := w.end
		if strings.HasPrefix(w.kind, "outside") {
			end += int64(outsideBound)
		}
		if w.proc != proc {
			end += int64(otherBound)
		}
		return end
	}
	// before returns the state of id promised before t to proc: the highest
	// version whose write was promised before t (versions only grow), and
	// its group.
	before := func(id int, t int64, proc string) (ver, grp int, by string) {
		grp = id % 4
		for _, w := range byID[id] {
			if promised(w, proc) < t && w.row.Ver >= ver {
				ver, grp, by = w.row.Ver, w.row.Grp, fmt.Sprintf("%s %s before", w.kind, time.Duration(t-w.end))
			}
		}
		return ver, grp, by
	}
	overlaps := func(id int, s, e int64, proc string) bool {
		for _, w := range byID[id] {
			if w.start < e && promised(w, proc) > s {
				return true
			}
		}
		return false
	}
	for _, ev := range events {
		if ev.Kind != "r" {
			continue
		}
		reads++
		seen := map[int]bool{}
		for _, r := range ev.Rows {
			seen[r.ID] = true
			if ver, _, by := before(r.ID, ev.Start, ev.Proc); r.Ver < ver {
				violations = append(violations, fmt.Sprintf("%s read saw row %d at version %d; version %d had committed before it started (%s)", ev.Query, r.ID, r.Ver, ver, by)+explainStale(events, byID[r.ID], ev, ver))
			}
		}
		if ev.Query == "group" {
			for id := 1; id <= tortureRows; id++ {
				if _, grp, _ := before(id, ev.Start, ev.Proc); grp == ev.Arg && !seen[id] && !overlaps(id, ev.Start, ev.End, ev.Proc) {
					violations = append(violations, fmt.Sprintf("group %d read missed row %d, in the group since before it started", ev.Arg, id))
				}
			}
		}
	}
	return violations, reads
}

func readLog(t *testing.T, path string) []tEvent {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []tEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var ev tEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatal(err)
		}
		ev.Proc = "helper"
		out = append(out, ev)
	}
	return out
}

// deleteKeys deletes random cacheops keys until ctx ends: losing any key may
// cost hits, never correctness. The schema stamp is one key among few here
// and would be found by nearly every scan; losing it makes every process
// reload its catalog, so it is deleted about once a second, not every 20 ms.
func deleteKeys(ctx context.Context, url, prefix string) {
	rdb := testRedisClient(url, true)
	defer rdb.Close()
	for ctx.Err() == nil {
		var keys []string
		if cc, ok := rdb.(*redis.ClusterClient); ok {
			// A scan of one master: a random one each time.
			var masters []*redis.Client
			var mu sync.Mutex
			_ = cc.ForEachMaster(ctx, func(_ context.Context, c *redis.Client) error {
				mu.Lock()
				masters = append(masters, c)
				mu.Unlock()
				return nil
			})
			if len(masters) > 0 {
				keys, _, _ = masters[rand.IntN(len(masters))].Scan(ctx, uint64(rand.IntN(64)), prefix+"*", 50).Result()
			}
		} else {
			keys, _, _ = rdb.Scan(ctx, uint64(rand.IntN(64)), prefix+"*", 50).Result()
		}
		for _, k := range keys {
			odds := 4
			if strings.HasSuffix(k, schemaKeySuffix) {
				odds = 200
			}
			if rand.IntN(odds) == 0 {
				rdb.Del(ctx, k)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// testRedisClient is a client for a single-node or a cluster URL;
// noRetries lets an outage show at once rather than after retries.
func testRedisClient(url string, noRetries bool) redis.UniversalClient {
	if strings.Contains(url, "addr=") {
		o, err := redis.ParseClusterURL(url)
		if err != nil {
			panic(err)
		}
		o.ContextTimeoutEnabled = true
		return redis.NewClusterClient(o) // its retries follow MOVED after a failover
	}
	o, err := redis.ParseURL(url)
	if err != nil {
		panic(err)
	}
	if noRetries {
		o.MaxRetries, o.DialerRetries = -1, 1
	}
	o.ContextTimeoutEnabled = true
	return redis.NewClient(o)
}

// schemaKeySuffix ends the schema stamps' keys.
const schemaKeySuffix = "#schema"

// redisServer is a redis-server of the test's own, so that restarting it
// disturbs no other test.
type redisServer struct {
	port     int
	args     []string // more redis-server arguments
	cmd      *exec.Cmd
	restarts atomic.Int32
}

func startRedis(t *testing.T, args ...string) *redisServer {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	// Its own directory: a replica keeps the RDB of a full sync on disk.
	s := &redisServer{port: port, args: append([]string{"--dir", t.TempDir()}, args...)}
	s.start(t)
	t.Cleanup(func() { s.stop() })
	return s
}

func (s *redisServer) url() string { return "redis://127.0.0.1:" + strconv.Itoa(s.port) + "/0" }

func (s *redisServer) start(t *testing.T) {
	args := append([]string{"--port", strconv.Itoa(s.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"}, s.args...)
	s.cmd = exec.Command("redis-server", args...)
	if err := s.cmd.Start(); err != nil {
		t.Errorf("redis-server: %v", err)
		return
	}
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(s.port)); err == nil {
			c.Close()
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Errorf("redis-server on %d did not start", s.port)
}

func (s *redisServer) stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
	}
}

func (s *redisServer) restart(t *testing.T) {
	s.stop()
	time.Sleep(time.Second)
	s.start(t)
	s.restarts.Add(1)
}
