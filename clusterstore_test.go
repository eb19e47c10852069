package cacheops_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops"
	"github.com/cacheops/cacheops/lua"
)

// lua.Slot is Redis Cluster's slot function, braces and all: grouping keys
// by it is what makes CROSSSLOT impossible.
func TestClusterSlotIsRedisSlot(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	rdb := c.nodes[0].client()
	defer rdb.Close()
	keys := []string{"", "a", "{", "}", "{}", "}{", "{}x", "x{}y", "{a}", "{a}b", "x{a}b", "x{{a}}b", "x{a{b}c}", "é{ü}", "\x00{\xff}"}
	alphabet := []byte("ab{}\x00é:*")
	for i := 0; i < 300; i++ {
		b := make([]byte, rand.IntN(12))
		for j := range b {
			b[j] = alphabet[rand.IntN(len(alphabet))]
		}
		keys = append(keys, string(b))
	}
	for _, k := range keys {
		want, err := rdb.ClusterKeySlot(context.Background(), k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if got := lua.Slot(k); int64(got) != want {
			t.Fatalf("Slot(%q) = %d, Redis says %d", k, got, want)
		}
	}
}

// The Store's steps on a cluster, with keys all over it: each answers as on
// a single node, in one pipeline.
func TestClusterStoreStepsAcrossSlots(t *testing.T) {
	t.Parallel()
	_, rdb, s := clusterStore(t)
	ctx := context.Background()
	stamps := make([]string, 40) // spread over the three masters
	for i := range stamps {
		stamps[i] = fmt.Sprintf("st:%d", i)
	}
	regs := []lua.Registration{{Set: "{t1}schemes", TableStamp: "{t1}table", Schemes: []string{"", "id"}}}
	stamps = append(stamps, "{t1}table")
	entry := "{t2}entry"
	if p, _, err := s.Lookup(ctx, entry, stamps); err != nil || p != nil {
		t.Fatalf("lookup: %q %v", p, err)
	}
	tokens, err := s.Register(ctx, regs, stamps, time.Minute)
	if err != nil || len(tokens) != len(stamps)*lua.TokenLen {
		t.Fatalf("register: %v", err)
	}
	again, _ := s.Register(ctx, regs, stamps, time.Minute)
	if again != tokens {
		t.Fatal("tokens changed without an invalidation")
	}
	if got := rdb.SMembers(ctx, "{t1}schemes").Val(); len(got) != 2 {
		t.Fatalf("schemes %q", got)
	}
	if ok, err := s.Put(ctx, entry, stamps, tokens, []byte("v"), time.Minute); err != nil || !ok {
		t.Fatalf("put: %v %v", ok, err)
	}
	if p, got, err := s.Lookup(ctx, entry, stamps); err != nil || string(p) != "v" || got != tokens {
		t.Fatalf("hit: %q %v", p, err)
	}
	// Invalidating one stamp on any master makes it a miss; a store with
	// the old tokens is refused in the stamp's slot.
	for _, i := range []int{0, 7, 23, 40} {
		if _, err := s.Invalidate(ctx, stamps[i:i+1]); err != nil {
			t.Fatal(err)
		}
		if p, _, _ := s.Lookup(ctx, entry, stamps); p != nil {
			t.Fatalf("stamp %d deleted, still a hit", i)
		}
		fresh, _ := s.Register(ctx, regs, stamps, time.Minute)
		if ok, _ := s.Put(ctx, entry, stamps, tokens, []byte("stale"), time.Minute); ok && lua.Slot(entry) == lua.Slot(stamps[i]) {
			t.Fatal("a stale fill was stored")
		}
		if p, _, _ := s.Lookup(ctx, entry, stamps); p != nil {
			t.Fatalf("a fill with old tokens is a hit (stamp %d)", i)
		}
		tokens = fresh
		if ok, _ := s.Put(ctx, entry, stamps, tokens, []byte("v"), time.Minute); !ok {
			t.Fatal("a current fill was refused")
		}
	}
	// Schema tokens across slots, and the write check per slot.
	schema := []string{"{a}sch", "{b}sch", "{c}sch", "{d}sch"}
	st, err := s.SchemaTokens(ctx, schema, time.Minute)
	if err != nil || len(st) != 4*lua.TokenLen {
		t.Fatalf("schema tokens: %v", err)
	}
	var checks []lua.Check
	for i, k := range schema {
		checks = append(checks, lua.SchemaCheck(k, st[i*lua.TokenLen:(i+1)*lua.TokenLen]))
	}
	// And a schemes set's copy, in a slot of its own.
	sets, err := s.Schemes(ctx, []string{"{t1}schemes", "{e}schemes"})
	if err != nil || len(sets[0].Schemes) != 2 || sets[1].Size != 0 {
		t.Fatalf("schemes across slots: %+v %v", sets, err)
	}
	checks = append(checks, lua.SetCheck("{t1}schemes", sets[0]), lua.SetCheck("{e}schemes", sets[1]))
	if failed, _, err := s.InvalidateChecked(ctx, checks, stamps[:3]); err != nil || len(failed) != 0 {
		t.Fatalf("current taken as old: %v %v", failed, err)
	}
	rdb.Del(ctx, "{c}sch")
	rdb.SAdd(ctx, "{e}schemes", "x")
	failed, _, err := s.InvalidateChecked(ctx, checks, stamps[:3])
	if err != nil || len(failed) != 2 || failed[0].Check != 2 || failed[1].Check != 5 || failed[1].Set.Schemes[0] != "x" {
		t.Fatalf("a schema change and a new set, each in one slot, went unseen: %v %v", failed, err)
	}
}

// clusterStore is a Store on a cluster of the test's own.
func clusterStore(t *testing.T) (*redisCluster, redis.UniversalClient, *lua.Store) {
	c := startCluster(t)
	rdb := testRedisClient(c.url(), false)
	t.Cleanup(func() { rdb.Close() })
	return c, rdb, lua.NewStore(rdb)
}

// A master that lost its scripts (restarted, failed over) answers NOSCRIPT
// inside a pipeline, where go-redis does not fall back: the Store sends
// those calls again by EVAL.
func TestClusterScriptsLostOnAMaster(t *testing.T) {
	t.Parallel()
	c, _, s := clusterStore(t)
	ctx := context.Background()
	stamps := []string{"{a}1", "{b}2", "{c}3", "{d}4", "{e}5"}
	if _, err := s.Register(ctx, nil, stamps, time.Minute); err != nil {
		t.Fatal(err)
	}
	for _, n := range c.nodes {
		cl := n.client()
		cl.ScriptFlush(ctx)
		cl.Close()
	}
	if _, err := s.Register(ctx, nil, stamps, time.Minute); err != nil {
		t.Fatalf("after SCRIPT FLUSH: %v", err)
	}
	if _, err := s.Invalidate(ctx, stamps); err != nil {
		t.Fatalf("after SCRIPT FLUSH: %v", err)
	}
}

// With one master down, an invalidation reaches the others and keeps as
// undelivered exactly the stamps of the dead master's slots.
func TestClusterOnlyFailedSlotsAreUndelivered(t *testing.T) {
	t.Parallel()
	// Slow to mark a master failed: the live masters answer meanwhile.
	c := startCluster(t, "--cluster-node-timeout", "60000")
	o, _ := redis.ParseClusterURL(c.url())
	o.MaxRedirects, o.MaxRetries = 1, -1
	rdb := redis.NewClusterClient(o)
	defer rdb.Close()
	s := lua.NewStore(rdb)
	ctx := context.Background()
	var stamps []string
	for i := 0; i < 60; i++ {
		stamps = append(stamps, fmt.Sprintf("u:%d", i))
	}
	if _, err := s.Register(ctx, nil, stamps, time.Minute); err != nil {
		t.Fatal(err)
	}
	dead := c.nodes[2]
	onDead := map[string]bool{}
	dc := dead.client()
	for _, k := range stamps {
		if dc.Exists(ctx, k).Val() == 1 {
			onDead[k] = true
		}
	}
	dc.Close()
	dead.stop()
	tctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	undelivered, err := s.Invalidate(tctx, stamps)
	if err == nil {
		t.Fatal("no error with a master down")
	}
	slices.Sort(undelivered)
	var want []string
	for k := range onDead {
		want = append(want, k)
	}
	slices.Sort(want)
	if len(want) == 0 || !slices.Equal(undelivered, want) {
		t.Fatalf("undelivered %v, want the dead master's %v", undelivered, want)
	}
	for _, k := range stamps {
		if !onDead[k] && rdb.Exists(ctx, k).Val() != 0 {
			t.Fatalf("%s on a live master was not deleted", k)
		}
	}
	// Each call to the dead master waits for its deadline (go-redis dials
	// again until then). After a few, its calls are no longer sent (its
	// breaker is open): they fail at once, and the live masters' do not.
	for range 4 {
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		s.Invalidate(cctx, stamps)
		cancel()
	}
	start := time.Now()
	undelivered, err = s.Invalidate(ctx, stamps)
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("with the dead master's breaker open the call took %v", took)
	}
	if !errors.Is(err, lua.ErrNodeDown) {
		t.Fatalf("with the dead master's breaker open: %v, want ErrNodeDown", err)
	}
	slices.Sort(undelivered)
	if !slices.Equal(undelivered, want) {
		t.Fatalf("undelivered %v, want the dead master's %v", undelivered, want)
	}
}

// A plain client naming one cluster node works: the Store uses it as a
// single node until a node answers as only a cluster node does, then asks
// and uses a cluster client with the same options.
func TestClusterSingleAddressOfANode(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	plain := c.nodes[0].client()
	defer plain.Close()
	s := lua.NewStore(plain)
	defer s.Close()
	ctx := context.Background()
	stamps := []string{"{a}1", "{b}2", "{c}3", "{d}4"}
	var tokens string
	var err error
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if tokens, err = s.Register(ctx, nil, stamps, time.Minute); err == nil {
			break
		}
	}
	if err != nil || len(tokens) != 4*lua.TokenLen {
		t.Fatalf("register: %v", err)
	}
	if _, ok := s.Client().(*redis.ClusterClient); !ok {
		t.Fatalf("still a %T", s.Client())
	}
	if !strings.Contains(s.Client().(*redis.ClusterClient).Options().Addrs[0], fmt.Sprint(c.nodes[0].port)) {
		t.Fatal("the cluster client does not start from the given address")
	}
}

// A master dies and its replica takes its slots: caching resumes within
// seconds, although go-redis alone would keep dialling the dead node until
// its periodic slot map reload (a minute; redis/go-redis#3979).
func TestClusterFailoverResumesCaching(t *testing.T) {
	t.Parallel()
	c := startClusterWithReplicas(t)
	e := newFixture(t, func(o *cacheops.Options) {
		rdb := testRedisClient(c.url(), false)
		t.Cleanup(func() { rdb.Close() })
		o.Redis, o.WaitReplicas, o.RedisTimeout = rdb, 1, time.Second
	})
	// Reads of several tables: their keys are on every master.
	var qs []string
	for _, table := range []string{"post", "category", "extra", "brand", "label", "brand_label"} {
		qs = append(qs, "SELECT * FROM "+table+" ORDER BY 1")
	}
	for _, q := range qs {
		e.cached(q)
	}
	c.nodes[1].stop()
	start := time.Now()
	for {
		before := e.cache.Stats().Hits
		e.exec("UPDATE post SET title = $1 WHERE id = 2", time.Now().String())
		for _, q := range qs {
			e.fresh(q)
			e.fresh(q)
		}
		// Every read a hit but the first of post, which the UPDATE invalidated.
		if e.cache.Stats().Hits-before == int64(2*len(qs)-1) {
			t.Logf("every read a hit again %v after the master died", time.Since(start).Round(100*time.Millisecond))
			return
		}
		if time.Since(start) > 25*time.Second {
			t.Fatalf("caching did not resume after the failover: %+v", e.cache.Stats())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// The same through the public API: CACHEOPS_REDIS / Options.RedisURL naming
// one node of a cluster caches and invalidates, on a cluster client, once
// the first cluster answer has been seen.
func TestClusterSingleAddressThroughTheURL(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	e := newFixture(t, func(o *cacheops.Options) {
		o.Redis, o.RedisURL = nil, "redis://127.0.0.1:"+fmt.Sprint(c.nodes[2].port)
	})
	for deadline := time.Now().Add(10 * time.Second); e.cache.Stats().Hits == 0; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("never a hit: %+v", e.cache.Stats())
		}
		e.fresh(post1, 1)
	}
	e.exec("UPDATE post SET title = 'through one node' WHERE id = 1")
	e.fresh(post1, 1)
	e.cached(post1, 1)
	if _, ok := e.cache.Redis().(*redis.ClusterClient); !ok {
		t.Fatalf("the cache uses a %T", e.cache.Redis())
	}
}
