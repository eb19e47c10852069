package cacheops_test

import (
	"context"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops"
)

// faultyProxy sits between cacheops and the real Redis and can pass traffic,
// swallow it (accept, read, never answer) or delay it.
type faultyProxy struct {
	ln     net.Listener
	target string
	mode   atomic.Int32 // proxyPass, proxySwallow, proxyDelay
	delay  time.Duration
	mu     sync.Mutex
	conns  []net.Conn
}

const (
	proxyPass int32 = iota
	proxySwallow
	proxyDelay
)

func newFaultyProxy(t *testing.T, target string) *faultyProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &faultyProxy{ln: ln, target: target}
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	go acceptAll(ln, p.serve)
	return p
}

func (p *faultyProxy) serve(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.mu.Lock()
	p.conns = append(p.conns, c, up)
	p.mu.Unlock()
	go io.Copy(c, up)
	buf := make([]byte, 64<<10)
	for {
		n, err := c.Read(buf)
		if err != nil {
			up.Close()
			return
		}
		switch p.mode.Load() {
		case proxySwallow:
			continue // read and never answer
		case proxyDelay:
			time.Sleep(p.delay)
		}
		if _, err := up.Write(buf[:n]); err != nil {
			return
		}
	}
}

// cutAll drops every open connection, as a network failure would.
func (p *faultyProxy) cutAll() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func proxiedEnv(t *testing.T, timeout time.Duration) (*env, *faultyProxy) {
	singleNodeOnly(t)
	ropts, err := redis.ParseURL(testRedisURL())
	if err != nil {
		t.Fatal(err)
	}
	p := newFaultyProxy(t, ropts.Addr)
	e := newFixture(t, func(o *cacheops.Options) {
		ro := *ropts
		ro.Addr, ro.MaxRetries, ro.DialerRetries, ro.ContextTimeoutEnabled = p.ln.Addr().String(), -1, 1, true
		o.Redis, o.RedisTimeout = redis.NewClient(&ro), timeout
	})
	return e, p
}

// A Redis that accepts connections and never answers costs each call at
// most the timeout, and only until the circuit breaker opens; every query
// answers correctly; caching resumes when Redis does.
func TestRedisThatNeverAnswers(t *testing.T) {
	t.Parallel()
	e, p := proxiedEnv(t, 100*time.Millisecond)
	p.mode.Store(proxySwallow)
	for i := 0; i < 20; i++ {
		e.fresh(post1, 1)
		e.exec("UPDATE post SET title = $1 WHERE id = 1", "t"+time.Now().String())
	}
	// The breaker is open now: reads make no Redis call and wait for no
	// timeout (20 of them would take 2 s if each waited 100 ms).
	start := time.Now()
	for i := 0; i < 20; i++ {
		e.fresh(post1, 1)
	}
	if took := time.Since(start); took > time.Second {
		t.Fatalf("20 reads took %v against a silent Redis: the breaker did not open", took)
	}
	s := e.cache.Stats()
	// Reads and writes stop calling Redis once the breaker opens (a handful
	// of errors, and a probe per cool-down); writes keep their invalidations
	// for the redeliverer.
	if s.RedisErrors == 0 || s.RedisErrors > 10+20 || s.Hits != 0 || s.Passthrough != 40 {
		t.Fatalf("stats %+v", s)
	}
	p.mode.Store(proxyPass)
	p.cutAll()
	deadline := time.Now().Add(5 * time.Second)
	for e.cache.Stats().Hits == 0 && time.Now().Before(deadline) {
		e.fresh(post1, 1)
		time.Sleep(50 * time.Millisecond)
	}
	if e.cache.Stats().Hits == 0 {
		t.Fatalf("caching did not resume: %+v", e.cache.Stats())
	}
}

// A slow Redis, within the timeout, still serves hits and fresh reads.
func TestSlowRedis(t *testing.T) {
	t.Parallel()
	e, p := proxiedEnv(t, time.Second)
	p.delay = 30 * time.Millisecond
	p.mode.Store(proxyDelay)
	for i := 0; i < 3; i++ {
		start := time.Now()
		e.cached(post1, 1)
		if took := time.Since(start); took > 2*time.Second {
			t.Fatalf("two reads took %v", took)
		}
		e.exec("UPDATE post SET title = $1 WHERE id = 1", time.Now().String())
		e.fresh(post1, 1)
	}
}

// An entry cached before an outage is never served for data written during
// it: the write's invalidation is kept, and delivered before any hit.
func TestOutageKeepsInvalidationsUntilDelivered(t *testing.T) {
	t.Parallel()
	e, p := proxiedEnv(t, 100*time.Millisecond)
	e.cached(post1, 1)
	p.mode.Store(proxySwallow)
	e.exec("UPDATE post SET title = 'written during the outage' WHERE id = 1")
	e.fresh(post1, 1)
	p.mode.Store(proxyPass)
	p.cutAll()
	for i := 0; i < 30; i++ {
		e.fresh(post1, 1) // never the entry from before the outage
		time.Sleep(50 * time.Millisecond)
	}
	if got := e.read(post1, 1); got != "1written during the outage" {
		t.Fatalf("got %q", got)
	}
	if e.cache.Stats().Hits == 0 {
		t.Fatalf("caching did not resume: %+v", e.cache.Stats())
	}
}

// Whatever sits under cacheops' keys — foreign bytes, a truncated entry, a
// value of the wrong Redis type — is a miss, is replaced, and never an error.
func TestForeignValuesUnderCacheopsKeys(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	q := "SELECT * FROM post WHERE category_id = $1 ORDER BY id"
	spoil := []func(k string){
		func(k string) { e.rdb.Set(e.ctx, k, "foreign bytes", 0) },
		func(k string) { e.rdb.Del(e.ctx, k); e.rdb.RPush(e.ctx, k, "a list") },
		func(k string) { e.rdb.Del(e.ctx, k); e.rdb.HSet(e.ctx, k, "a", "hash") },
		func(k string) { e.rdb.Del(e.ctx, k); e.rdb.SAdd(e.ctx, k, "a set") },
		func(k string) { v, _ := e.rdb.Get(e.ctx, k).Result(); e.rdb.Set(e.ctx, k, v[:len(v)/2], 0) },
	}
	for round, f := range spoil {
		e.cached(q, 3)
		keys := e.keys(e.cachePrefix() + "*")
		if len(keys) < 4 {
			t.Fatalf("keys %v", keys)
		}
		for _, k := range keys {
			if typ := e.rdb.Type(e.ctx, k).Val(); typ == "string" || round < 4 {
				f(k) // every key: entry, stamps and schemes set
			}
		}
		before := e.cache.Stats()
		for i := 0; i < 3; i++ {
			e.fresh(q, 3)
		}
		after := e.cache.Stats()
		if after.Hits == before.Hits {
			t.Fatalf("round %d: caching did not resume: %+v", round, after)
		}
		e.exec("UPDATE post SET title = $1 WHERE id = 2", time.Now().String())
		e.fresh(q, 3)
	}
}

// Redis ACL users and passwords work through the URL; a wrong password is a
// Redis failure like any other: queries still answer.
func TestRedisACLUserThroughTheURL(t *testing.T) {
	singleNodeOnly(t)
	t.Parallel()
	e := newFixture(t)
	// A user of the test's own, allowed only its keys.
	user, ropts := aclUser(t, e, "", "&*", "+@all", "-@dangerous")
	for _, c := range []struct {
		password string
		hits     bool
	}{{"s3cret", true}, {"wrong", false}} {
		url := fmt.Sprintf("redis://%s:%s@%s/%d", user, c.password, ropts.Addr, ropts.DB)
		cache, err := cacheops.New(cacheops.Options{RedisURL: url, Prefix: e.cachePrefix() + c.password + ":"})
		if err != nil {
			t.Fatal(err)
		}
		db, err := cache.OpenDB(withSearchPath(testDSN(), e.schema))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 3; i++ {
			if got, want := rows(t, db, post1, 1), e.direct_(post1, 1); got != want {
				t.Fatalf("got %q, want %q", got, want)
			}
		}
		if s := cache.Stats(); (s.Hits > 0) != c.hits || (s.RedisErrors > 0) == c.hits {
			t.Fatalf("password %s: stats %+v", c.password, s)
		}
		db.Close()
		cache.Close()
	}
}

// aclUser makes a Redis ACL user of the test's own (password s3cret),
// removed when it ends, allowed e's keys and rules; it returns its name and
// the test Redis' options.
func aclUser(t *testing.T, e *env, suffix string, rules ...any) (string, *redis.Options) {
	t.Helper()
	ropts, err := redis.ParseURL(testRedisURL())
	if err != nil {
		t.Fatal(err)
	}
	user := strings.ReplaceAll(strings.TrimSuffix(e.cachePrefix(), ":"), ":", "_") + suffix
	args := append([]any{"ACL", "SETUSER", user, "on", ">s3cret", "~" + e.cachePrefix() + "*"}, rules...)
	if err := e.rdb.Do(e.ctx, args...).Err(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.rdb.Do(context.Background(), "ACL", "DELUSER", user) })
	return user, ropts
}

// aclCommands are the commands the README says an ACL user needs (SELECT
// for a URL's database number).
var aclCommands = []string{"get", "set", "mget", "del", "sadd", "smembers", "scard", "sismember",
	"expire", "ttl", "type", "exists", "evalsha", "eval", "script", "ping", "select"}

// An ACL user allowed only the commands the README lists reads, hits, and
// writes (a table's first and later ones: the script, then the plain
// commands) with no Redis error and no stale read.
func TestRedisACLUserWithTheDocumentedCommands(t *testing.T) {
	singleNodeOnly(t)
	t.Parallel()
	e := newFixture(t)
	rules := []any{"resetchannels", "-@all"}
	for _, c := range aclCommands {
		rules = append(rules, "+"+c)
	}
	user, ropts := aclUser(t, e, "_min", rules...)
	url := fmt.Sprintf("redis://%s:s3cret@%s/%d", user, ropts.Addr, ropts.DB)
	p := e.otherProcess(func(o *cacheops.Options) { o.Redis, o.RedisURL = nil, url })
	cache, db := p.cache, p.db
	rows(t, db, post1, 2) // another row, which the writes must leave cached
	for i := 0; i < 3; i++ {
		for j := 0; j < 2; j++ { // a miss, then a hit
			if got, want := rows(t, db, post1, 1), e.direct_(post1, 1); got != want {
				t.Fatalf("write %d: got %q, want %q", i, got, want)
			}
		}
		if _, err := db.ExecContext(e.ctx, "UPDATE post SET title = $1 WHERE id = 1", fmt.Sprint("acl ", i)); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := rows(t, db, post1, 1), e.direct_(post1, 1); got != want {
		t.Fatalf("after the writes: got %q, want %q", got, want)
	}
	if s := cache.Stats(); s.Hits == 0 || s.RedisErrors != 0 || s.UndeliveredStamps != 0 {
		t.Fatalf("stats %+v", s)
	}
	hits := cache.Stats().Hits
	if rows(t, db, post1, 2); cache.Stats().Hits != hits+1 {
		t.Fatal("writes to row 1 invalidated row 2: they went whole")
	}
}

// Redis stopped and restarted: every query answers correctly meanwhile, with
// no error and no more than the timeout added, and caching resumes after.
func TestRedisStoppedAndRestarted(t *testing.T) {
	t.Parallel()
	srv := startRedis(t)
	e := newFixture(t, func(o *cacheops.Options) {
		ro, _ := redis.ParseURL(srv.url())
		ro.MaxRetries, ro.DialerRetries, ro.ContextTimeoutEnabled = -1, 1, true
		o.Redis, o.RedisTimeout = redis.NewClient(ro), 200*time.Millisecond
	})
	e.cached(post1, 1)
	srv.stop()
	for i := 0; i < 10; i++ {
		start := time.Now()
		e.fresh(post1, 1)
		if took := time.Since(start); took > time.Second {
			t.Fatalf("a read took %v with Redis down", took)
		}
		e.exec("UPDATE post SET title = $1 WHERE id = 1", time.Now().String())
	}
	srv.start(t)
	deadline := time.Now().Add(5 * time.Second)
	for e.cache.Stats().Hits < 2 && time.Now().Before(deadline) {
		e.fresh(post1, 1)
		time.Sleep(50 * time.Millisecond)
	}
	if s := e.cache.Stats(); s.Hits < 2 || s.RedisErrors == 0 {
		t.Fatalf("caching did not resume after the restart: %+v", s)
	}
}

// A catalog reload while the breaker is open (after DDL, here) does not wait
// for the silent Redis either.
func TestCatalogReloadDoesNotWaitForASilentRedis(t *testing.T) {
	t.Parallel()
	e, p := proxiedEnv(t, time.Second)
	e.fresh(post1, 1) // connected, catalog read while Redis answered
	p.mode.Store(proxySwallow)
	for i := 0; i < 5; i++ { // opens the breaker: five reads, a second each
		e.fresh(post1, 1)
	}
	e.exec("CREATE TABLE newcomer (id int)") // the catalog is stale now
	start := time.Now()
	e.fresh(post1, 1) // reloads it
	// Waiting for Redis would cost the whole timeout (1 s); a catalog load
	// alone takes milliseconds, a few hundred on a loaded machine.
	if took := time.Since(start); took > 900*time.Millisecond {
		t.Fatalf("a read that reloaded the catalog took %v against a silent Redis", took)
	}
	if s := e.cache.Stats(); s.CatalogLoads < 2 {
		t.Fatalf("the catalog was not reloaded: %+v", s)
	}
}
