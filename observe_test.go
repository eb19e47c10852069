package cacheops_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/cacheops/cacheops"
)

// recorder keeps the events hooks saw, by kind.
type recorder struct {
	mu     sync.Mutex
	events map[string][]cacheops.Event
}

func (r *recorder) hooks() cacheops.Hooks {
	on := func(kind string) func(context.Context, cacheops.Event) {
		return func(_ context.Context, e cacheops.Event) {
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.events == nil {
				r.events = map[string][]cacheops.Event{}
			}
			r.events[kind] = append(r.events[kind], e)
		}
	}
	return cacheops.Hooks{Hit: on("hit"), Miss: on("miss"), Store: on("store"), GuardDrop: on("guard drop"),
		Invalidate: on("invalidate"), RedisError: on("redis error")}
}

func (r *recorder) take(kind string) []cacheops.Event {
	cacheops.SettleForTesting()
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.events[kind]
	delete(r.events, kind)
	return out
}

// syncBuffer is a log destination tests read while the cache writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Hooks see each step with what a tracer or a metric needs.
func TestHooks(t *testing.T) {
	var r recorder
	e := newFixture(t, func(o *cacheops.Options) { o.Hooks = r.hooks() })
	post := fmt.Sprintf("%q.%q", e.schema, "post")
	e.read(post1, 1)
	if ev := r.take("miss"); len(ev) != 1 || ev[0].SQL != post1 || !slices.Contains(ev[0].Tables, post) || ev[0].Key == "" || ev[0].Duration <= 0 {
		t.Fatalf("miss: %+v", ev)
	}
	if ev := r.take("store"); len(ev) != 1 || ev[0].Bytes == 0 || ev[0].Duration <= 0 || ev[0].SQL != post1 {
		t.Fatalf("store: %+v", ev)
	}
	e.read(post1, 1)
	if ev := r.take("hit"); len(ev) != 1 || ev[0].Bytes == 0 || ev[0].SQL != post1 || ev[0].Start.IsZero() {
		t.Fatalf("hit: %+v", ev)
	}
	e.exec("UPDATE post SET title = 'h' WHERE id = 1")
	if ev := r.take("invalidate"); len(ev) != 1 || ev[0].Stamps == 0 || ev[0].Err != nil {
		t.Fatalf("invalidate: %+v", ev)
	}
	// A write while a miss reads its rows: the store is dropped.
	e.writeWhileReading(e.ctx, "UPDATE post SET title = 'during' WHERE id = 2")
	if ev := r.take("guard drop"); len(ev) != 1 || ev[0].SQL != firstThree {
		t.Fatalf("guard drop: %+v", ev)
	}
	if ev := r.take("redis error"); len(ev) != 0 {
		t.Fatalf("redis errors: %+v", ev)
	}
}

// A Redis that refuses connections: hooks see the errors, the log says what
// happened once (not once per call), and statements keep working.
func TestRedisTroubleIsReported(t *testing.T) {
	singleNodeOnly(t)
	var r recorder
	var logs syncBuffer
	e := newFixture(t, func(o *cacheops.Options) {
		o.Redis, o.RedisURL = nil, "redis://127.0.0.1:1/0" // nothing listens there
		o.Hooks = r.hooks()
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	for i := 0; i < 20; i++ {
		e.fresh(post1, 1)
		e.exec("UPDATE post SET title = $1 WHERE id = 1", fmt.Sprint(i))
	}
	if ev := r.take("redis error"); len(ev) == 0 || ev[0].Err == nil {
		t.Fatalf("no Redis error reached the hooks")
	}
	if ev := r.take("invalidate"); len(ev) == 0 || ev[len(ev)-1].Err == nil {
		t.Fatalf("the kept invalidations were not reported: %+v", ev)
	}
	out := logs.String()
	for _, want := range []string{"Redis call failed", "connection refused", "Redis unreachable", "invalidations kept"} {
		if !strings.Contains(out, want) {
			t.Errorf("the log lacks %q:\n%s", want, out)
		}
	}
	if n := strings.Count(out, "Redis call failed"); n != 1 {
		t.Errorf("%d lines for failed calls in a burst, want 1 (rate-limited):\n%s", n, out)
	}
	if err := e.cache.Ping(e.ctx); err == nil {
		t.Fatal("Ping: no error for a Redis that refuses connections")
	}
	if err := cacheops.InvalidateRows(e.ctx, e.db, "post", cacheops.Row{"id": 1}); !errors.Is(err, cacheops.ErrKept) {
		t.Fatalf("InvalidateRows with Redis down: %v, want ErrKept", err)
	}
}

// A database number the server does not have is an error from Ping and in
// the log, not a cache that silently never caches.
func TestRedisDatabaseThatDoesNotExist(t *testing.T) {
	singleNodeOnly(t)
	var logs syncBuffer
	url := strings.TrimRight(strings.SplitN(testRedisURL(), "?", 2)[0], "0123456789") + "99"
	e := newFixture(t, func(o *cacheops.Options) {
		o.Redis, o.RedisURL = nil, url
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	})
	if err := e.cache.Ping(e.ctx); err == nil || !strings.Contains(err.Error(), "DB index is out of range") {
		t.Fatalf("Ping %s: %v", url, err)
	}
	e.fresh(post1, 1)
	if out := logs.String(); !strings.Contains(out, "DB index is out of range") {
		t.Fatalf("the log does not say why nothing is cached:\n%s", out)
	}
	good := newEnv(t)
	if err := good.cache.Ping(good.ctx); err != nil {
		t.Fatalf("Ping of the test Redis: %v", err)
	}
}

// Once the circuit breaker is open, a write does not wait for Redis: its
// invalidation is kept, and delivered as soon as Redis answers, with no
// further traffic in the writer's process — another process then reads
// the write.
func TestWritesDuringAnOutage(t *testing.T) {
	e, p := proxiedEnv(t, 200*time.Millisecond)
	other := e.otherProcess()
	other.cached(t, post1, 1)
	p.mode.Store(proxySwallow)
	for i := 0; i < 6; i++ { // the breaker opens
		e.exec("UPDATE post SET title = $1 WHERE id = 1", fmt.Sprint("trip ", i))
	}
	start := time.Now()
	for i := 0; i < 20; i++ {
		e.exec("UPDATE post SET title = $1 WHERE id = 1", fmt.Sprint("outage ", i))
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Fatalf("20 writes took %v with the breaker open: each waited for Redis", took)
	}
	if s := e.cache.Stats(); !s.BreakerOpen || s.UndeliveredStamps == 0 {
		t.Fatalf("during the outage: %+v", s)
	}
	p.mode.Store(proxyPass)
	p.cutAll()
	deadline := time.Now().Add(5 * time.Second)
	for rows(t, other.db, post1, 1) != e.direct_(post1, 1) {
		if time.Now().After(deadline) {
			t.Fatalf("the other process still reads %q: the writes' invalidations were never delivered", rows(t, other.db, post1, 1))
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A delivery already on its way when the last writes kept the same
	// stamps again leaves them kept (Redis may have taken it before those
	// writes committed): the next, redeliveryEvery later, takes them.
	for s := e.cache.Stats(); s.BreakerOpen || s.UndeliveredStamps != 0; s = e.cache.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("after the outage: %+v", s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
