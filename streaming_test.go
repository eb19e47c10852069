package cacheops_test

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// A miss hands its rows to the caller as PostgreSQL sends them: the first row
// arrives while the rest of the result is still held back on the wire, and
// the result, recorded on the way, is stored once the caller has read it
// (the next read is a hit equal to the database). Both APIs.
func TestMissStreamsWhileRecording(t *testing.T) {
	t.Parallel()
	const q = "SELECT g, 'row ' || g FROM generate_series(1, 5000) g WHERE g > $1"
	for _, api := range []string{"database/sql", "pgx"} {
		t.Run(api, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t)
			proxy := newPgProxy(t)
			type cursor struct {
				next  func() bool
				close func()
			}
			var open func() (cursor, error)
			var read func() string
			want := e.direct_(q, 0)
			if api == "pgx" {
				_, raw := e.pools()
				want = pgxRead(t, raw, q, 0)
				pool := proxy.openPool(t, e.cache, e.schema)
				if err := pool.Ping(e.ctx); err != nil { // connect first
					t.Fatal(err)
				}
				open = func() (cursor, error) {
					rs, err := pool.Query(e.ctx, q, 0)
					if err != nil {
						return cursor{}, err
					}
					return cursor{rs.Next, rs.Close}, nil
				}
				read = func() string { return pgxRead(t, pool, q, 0) }
			} else {
				db := proxy.open(t, e.cache, e.schema)
				if err := db.Ping(); err != nil {
					t.Fatal(err)
				}
				open = func() (cursor, error) {
					rs, err := db.QueryContext(e.ctx, q, 0)
					if err != nil {
						return cursor{}, err
					}
					return cursor{rs.Next, func() { rs.Close() }}, nil
				}
				read = func() string { return rows(t, db, q, 0) }
			}
			release := proxy.pauseAfter("generate_series", 2048)
			defer release()
			first := make(chan bool, 1)
			var c cursor
			go func() {
				var err error
				if c, err = open(); err != nil {
					t.Error(err)
					first <- false
					return
				}
				first <- c.next()
			}()
			select {
			case ok := <-first:
				if !ok {
					t.Fatal("no first row")
				}
			case <-time.After(5 * time.Second):
				release()
				<-first
				t.Fatal("the first row waited for the whole result: the miss does not stream")
			}
			release()
			n := 1
			for c.next() {
				n++
			}
			c.close()
			if n != 5000 {
				t.Fatalf("%d rows", n)
			}
			hits := e.cache.Stats().Hits
			if got := read(); got != want || e.cache.Stats().Hits != hits+1 {
				t.Fatalf("the streamed result was not stored whole (hit: %v)", e.cache.Stats().Hits == hits+1)
			}
		})
	}
}

// Rows closed before their end — a QueryRow reads one row — are read to the
// end into the recording: the whole result is stored and served.
func TestMissClosedEarlyStoresTheWholeResult(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	q := "SELECT id, title FROM post ORDER BY id"
	var id int
	var title string
	if err := e.db.QueryRow(q).Scan(&id, &title); err != nil || id != 1 {
		t.Fatal(id, err)
	}
	e.hit(e.direct_(q), q)
	// pgx: read one row of another result and close.
	pool, raw := e.pools()
	q2 := "SELECT id, title FROM post WHERE visible ORDER BY id"
	rs, err := pool.Query(e.ctx, q2)
	if err != nil {
		t.Fatal(err)
	}
	rs.Next()
	rs.Close()
	hits := e.cache.Stats().Hits
	if got, want := pgxRead(t, pool, q2), pgxRead(t, raw, q2); got != want || e.cache.Stats().Hits != hits+1 {
		t.Fatalf("pgx: %q, database %q (hit: %v)", got, want, e.cache.Stats().Hits == hits+1)
	}
}

// A miss whose caller holds its rows unread does not make another reader of
// the same entry wait for it: the waiter runs its own query after a short
// idle bound (a caller may read the same query again while iterating), and
// later misses no longer join that leader.
func TestMissWaiterDoesNotWaitForAnIdleLeader(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	q := "SELECT id, title FROM post ORDER BY id"
	conn, err := e.db.Conn(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rs, err := conn.QueryContext(e.ctx, q)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close() // before the connection, also when the test fails
	rs.Next()        // the leader holds its rows, reading no more
	var wg sync.WaitGroup
	wg.Add(1)
	start := time.Now()
	var got string
	go func() {
		defer wg.Done()
		got = e.read(q)
	}()
	wg.Wait()
	if took := time.Since(start); took > 900*time.Millisecond {
		t.Fatalf("the waiter waited %v for an idle leader", took)
	}
	if want := e.direct_(q); got != want {
		t.Fatalf("%q, database %q", got, want)
	}
	// The idle leader's call is abandoned: the next miss leads its own and
	// stores, rather than waiting again.
	e.read(q)
	e.hit(e.direct_(q), q)
	rs.Close()
	e.hit(e.direct_(q), q) // the leader's result, read to its end on Close, is stored
	if !strings.Contains(got, "Cacheops") {
		t.Fatalf("%q", got)
	}
}
