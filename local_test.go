package cacheops_test

import (
	"bytes"
	"database/sql"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops"
)

// withLocal turns the local layer on with staleness bound d.
func withLocal(d time.Duration, maxBytes int64) func(*cacheops.Options) {
	return func(o *cacheops.Options) { o.Local = cacheops.LocalOptions{MaxStaleness: d, MaxBytes: maxBytes} }
}

// onTheCluster makes an env (or a process) use the cluster u.
func onTheCluster(t *testing.T, u string) func(*cacheops.Options) {
	return func(o *cacheops.Options) {
		rdb, err := cacheops.ClientFromURLForTesting(u)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rdb.Close() })
		o.Redis = rdb
	}
}

// localHit reads q until the read is answered from memory (the tracking
// connections' first heartbeat opens the layer) and returns what it read.
func localHit(t *testing.T, c *cacheops.Cache, db querier, q string, args ...any) string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		before := c.Stats().LocalHits
		got := rows(t, db, q, args...)
		if c.Stats().LocalHits > before {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("%s: never a local hit: %+v", q, c.Stats())
	return ""
}

func TestLocalHitsComeFromMemory(t *testing.T) {
	t.Parallel()
	for _, on := range []string{"single", "cluster"} {
		t.Run(on, func(t *testing.T) {
			opts := []func(*cacheops.Options){withLocal(time.Second, 0)}
			if on == "cluster" {
				u, _ := clusterUnderTest(t)
				opts = append(opts, onTheCluster(t, u))
			}
			e := newFixture(t, opts...)
			q := "SELECT id, title FROM post WHERE category_id = $1 ORDER BY id"
			want := e.direct_(q, 3)
			if got := localHit(t, e.cache, e.db, q, 3); got != want {
				t.Fatalf("local hit %q, database %q", got, want)
			}
			hits, misses := e.cache.Stats().Hits, e.cache.Stats().Misses
			for range 20 {
				if got := e.read(q, 3); got != want {
					t.Fatalf("local hit %q, database %q", got, want)
				}
			}
			if s := e.cache.Stats(); s.Hits != hits || s.Misses != misses || s.LocalEntries == 0 || s.LocalBytes == 0 {
				t.Fatalf("reads after a local hit went elsewhere: %+v", s)
			}
		})
	}
}

// Another process' writes are seen once MaxStaleness has passed, on a single
// Redis and on a cluster, write after write.
func TestLocalSeesOtherProcessesWritesWithinTheBound(t *testing.T) {
	t.Parallel()
	const bound = 100 * time.Millisecond
	for _, on := range []string{"single", "cluster"} {
		t.Run(on, func(t *testing.T) {
			opts := []func(*cacheops.Options){withLocal(bound, 0)}
			var other []func(*cacheops.Options)
			if on == "cluster" {
				u, _ := clusterUnderTest(t) // one: without CACHEOPS_TEST_CLUSTER each call starts one
				opts = append(opts, onTheCluster(t, u))
				other = append(other, onTheCluster(t, u))
			}
			e := newFixture(t, opts...)
			a := e.otherProcess(other...)
			qs := []string{
				"SELECT title FROM post WHERE id = $1",
				"SELECT count(*) FROM post WHERE category_id = 3 AND title LIKE $1",
				"SELECT p.title, c.title FROM post p JOIN category c ON c.id = p.category_id WHERE p.id = $1",
			}
			args := []any{2, "v%", 2}
			for round := range 15 {
				for i, q := range qs {
					localHit(t, e.cache, e.db, q, args[i])
				}
				mustExec(t, a.db, "UPDATE post SET title = $1 WHERE id = 2", fmt.Sprintf("v%d", round))
				time.Sleep(bound + bound/10)
				for i, q := range qs {
					if got, want := e.read(q, args[i]), e.direct_(q, args[i]); got != want {
						t.Fatalf("round %d: %s read %q %s after another process' write; the database has %q", round, q, got, bound, want)
					}
				}
			}
		})
	}
}

// This process' own writes are seen at once, in and out of transactions.
func TestLocalSeesItsOwnWritesAtOnce(t *testing.T) {
	t.Parallel()
	e := newFixture(t, withLocal(time.Minute, 0))
	q := "SELECT title FROM post WHERE id = $1"
	for round := range 20 {
		localHit(t, e.cache, e.db, q, 1)
		title := fmt.Sprintf("own %d", round)
		if round%2 == 0 {
			e.exec("UPDATE post SET title = $1 WHERE id = 1", title)
		} else {
			tx, err := e.db.Begin()
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec("UPDATE post SET title = $1 WHERE id = 1", title); err != nil {
				t.Fatal(err)
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
		}
		if got := e.read(q, 1); got != title {
			t.Fatalf("round %d: read %q right after this process wrote %q", round, got, title)
		}
	}
	// Manual invalidation too.
	localHit(t, e.cache, e.db, q, 1)
	e.outOfBand("UPDATE post SET title = 'outside' WHERE id = 1")
	if err := cacheops.InvalidateTables(e.ctx, e.db, "post"); err != nil {
		t.Fatal(err)
	}
	e.fresh(q, 1)
}

// Granular: a write to one row leaves the local entries of others.
func TestLocalInvalidationIsGranular(t *testing.T) {
	t.Parallel()
	e := newFixture(t, withLocal(time.Minute, 0))
	q := "SELECT title FROM post WHERE id = $1"
	localHit(t, e.cache, e.db, q, 1)
	localHit(t, e.cache, e.db, q, 2)
	e.exec("UPDATE post SET title = 'changed' WHERE id = 2")
	before := e.cache.Stats().LocalHits
	e.read(q, 1)
	if e.cache.Stats().LocalHits != before+1 {
		t.Fatal("too coarse: a write to row 2 dropped row 1's local entry")
	}
	e.fresh(q, 2)
}

func TestLocalMemoryStaysWithinMaxBytes(t *testing.T) {
	t.Parallel()
	const maxBytes = 64 << 10
	e := newFixture(t, withLocal(time.Minute, maxBytes))
	e.outOfBand("INSERT INTO post(title, category_id) SELECT repeat('x', 200) || g, 1 FROM generate_series(1, 600) g")
	q := "SELECT id, title FROM post WHERE id = $1"
	localHit(t, e.cache, e.db, q, 1)
	for round := range 2 {
		for id := 1; id <= 603; id++ {
			if got, want := e.read(q, id), e.direct_(q, id); got != want {
				t.Fatalf("round %d: %q, database %q", round, got, want)
			}
		}
	}
	s := e.cache.Stats()
	if s.LocalBytes > maxBytes || s.LocalEntries == 0 || s.LocalEntries >= 603 {
		t.Fatalf("a working set of 603 entries (about 10x the bound) left %d entries counted as %d bytes, bound %d", s.LocalEntries, s.LocalBytes, maxBytes)
	}
	if s.LocalHits == 0 {
		t.Fatal("no local hits")
	}
}

// redisProxy forwards connections to Redis and can stall the replies of
// the tracking connections (those that sent CLIENT TRACKING), as a network
// that stops delivering does.
type redisProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	stall  chan struct{} // non-nil: tracking replies wait until it closes
}

// newRedisProxy is a proxy to the Redis at address target.
func newRedisProxy(t *testing.T, target string) *redisProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &redisProxy{ln: ln, target: target}
	t.Cleanup(func() { ln.Close(); p.release() })
	go p.serve()
	return p
}

func (p *redisProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		go p.forward(c)
	}
}

func (p *redisProxy) forward(c net.Conn) {
	s, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	defer c.Close()
	defer s.Close()
	var tracking sync.Once
	isTracking := make(chan struct{})
	go func() {
		buf := make([]byte, 32<<10)
		for {
			n, err := c.Read(buf)
			if bytes.Contains(bytes.ToUpper(buf[:n]), []byte("TRACKING")) {
				tracking.Do(func() { close(isTracking) })
			}
			if _, werr := s.Write(buf[:n]); err != nil || werr != nil {
				s.Close()
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := s.Read(buf)
		select {
		case <-isTracking:
			p.mu.Lock()
			stall := p.stall
			p.mu.Unlock()
			if stall != nil {
				<-stall
			}
		default:
		}
		if _, werr := c.Write(buf[:n]); err != nil || werr != nil {
			return
		}
	}
}

func (p *redisProxy) hold() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stall == nil {
		p.stall = make(chan struct{})
	}
}

func (p *redisProxy) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stall != nil {
		close(p.stall)
		p.stall = nil
	}
}

// A tracking connection that stops delivering closes the local layer once
// its heartbeat is older than MaxStaleness: reads then go to Redis and see
// another process' write. With the heartbeat check off (the test-only hook)
// the same run serves the stale local entry: the check is what keeps the
// promise, and this test can fail.
func TestLocalAStalledTrackingConnectionClosesTheLayer(t *testing.T) {
	t.Parallel()
	singleNodeOnly(t)
	const bound = 100 * time.Millisecond
	for _, skip := range []bool{false, true} {
		t.Run(fmt.Sprintf("skip heartbeat %v", skip), func(t *testing.T) {
			u, _ := url.Parse(testRedisURL())
			proxy := newRedisProxy(t, u.Host)
			db := strings.TrimPrefix(u.Path, "/")
			o, err := redis.ParseURL("redis://" + proxy.ln.Addr().String() + "/" + db)
			if err != nil {
				t.Fatal(err)
			}
			rdb := redis.NewClient(o)
			t.Cleanup(func() { rdb.Close() })
			e := newFixture(t, withLocal(bound, 0), func(o *cacheops.Options) { o.Redis = rdb })
			a := e.otherProcess(func(o *cacheops.Options) { o.Redis = e.rdb })
			q := "SELECT title FROM post WHERE id = $1"
			old := localHit(t, e.cache, e.db, q, 2)
			cacheops.SkipLocalHeartbeatForTesting(e.cache, skip)
			proxy.hold()
			mustExec(t, a.db, "UPDATE post SET title = 'new' WHERE id = 2")
			time.Sleep(3 * bound)
			got := e.read(q, 2)
			proxy.release()
			switch {
			case !skip && got != e.direct_(q, 2):
				t.Fatalf("read %q %v after another process' write while the tracking connection stalled", got, 3*bound)
			case skip && got != old:
				t.Fatalf("with the heartbeat check off the stalled connection should have served the old %q, read %q: the test proves nothing", old, got)
			}
		})
	}
}

// A local hit returns exactly what the database returns, through both APIs:
// values, Go types, raw bytes, column descriptions and the command tag.
func TestLocalHitReturnsExactlyWhatAMissReturns(t *testing.T) {
	t.Parallel()
	e := newFixture(t, withLocal(time.Minute, 0))
	q := `SELECT id, title, 1.50::numeric AS n, '2026-11-23 10:00:00+05:30'::timestamptz AS at,
	  ARRAY[1, NULL, 3] AS arr, '{"a": [1, 2]}'::jsonb AS doc, NULL::text AS none, visible
	  FROM post WHERE category_id = $1 ORDER BY id`
	pool, raw := e.pools()
	want := describePgx(t, raw, q, 3)
	for range 2 {
		describePgx(t, pool, q, 3) // a miss, then a Redis hit
	}
	before := e.cache.Stats().LocalHits
	for range 3 {
		if got := describePgx(t, pool, q, 3); got != want {
			t.Fatalf("pgx: a local hit returned\n%s\nthe database\n%s", got, want)
		}
	}
	if e.cache.Stats().LocalHits == before {
		t.Fatal("pgx: no local hit")
	}
	query := func(db *sql.DB) *sql.Rows {
		rs, err := db.Query(q, 3)
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}
	wantSQL := describe(t, query(e.direct))
	localHit(t, e.cache, e.db, q, 3)
	before = e.cache.Stats().LocalHits
	if got := describe(t, query(e.db)); got != wantSQL || e.cache.Stats().LocalHits != before+1 {
		t.Fatalf("database/sql: a local hit returned\n%s\nthe database\n%s", got, wantSQL)
	}
}

// A refresh is what the next reads see, in this process at once and in
// another within MaxStaleness (the entry's own key is one of its stamps).
func TestLocalRefreshIsSeen(t *testing.T) {
	t.Parallel()
	const bound = 100 * time.Millisecond
	e := newFixture(t, withLocal(bound, 0))
	b := e.otherProcess(withLocal(bound, 0))
	q := "SELECT title FROM post WHERE id = $1"
	localHit(t, e.cache, e.db, q, 1)
	localHit(t, b.cache, b.db, q, 1)
	e.outOfBand("UPDATE post SET title = 'refreshed' WHERE id = 1") // outside cacheops: no invalidation
	rows(t, e.db, "/* cacheops:refresh */ "+q, 1)
	cacheops.SettleForTesting()
	if got := e.read(q, 1); got != "refreshed" {
		t.Fatalf("this process read %q after its refresh", got)
	}
	time.Sleep(bound + bound/10)
	if got := rows(t, b.db, q, 1); got != "refreshed" {
		t.Fatalf("another process read %q %s after a refresh", got, bound)
	}
}

// A Redis restart loses the tracking connection: the local layer empties
// at once (a write may have been missed meanwhile) and fills again once a
// new connection has answered a heartbeat.
func TestLocalALostConnectionEmptiesTheLayer(t *testing.T) {
	t.Parallel()
	srv := startRedis(t)
	rdb := testRedisClient(srv.url(), true)
	t.Cleanup(func() { rdb.Close() })
	e := newFixture(t, withLocal(time.Minute, 0), func(o *cacheops.Options) { o.Redis = rdb })
	q := "SELECT title FROM post WHERE id = $1"
	localHit(t, e.cache, e.db, q, 1)
	if e.cache.Stats().LocalEntries == 0 {
		t.Fatal("no local entry")
	}
	srv.restart(t)
	deadline := time.Now().Add(5 * time.Second)
	for e.cache.Stats().LocalEntries != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the local layer kept its entries after its connection was lost: %+v", e.cache.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	// Missed while the layer was down: the layer must not serve it old.
	e.outOfBand("UPDATE post SET title = 'while down' WHERE id = 1")
	e.fresh(q, 1)
	e.exec("UPDATE post SET title = 'back' WHERE id = 1")
	if got := localHit(t, e.cache, e.db, q, 1); got != "back" {
		t.Fatalf("after the restart the local layer served %q", got)
	}
}
