package driver

import (
	"fmt"
	"testing"
	"time"
)

// openLocal is a local cache whose heartbeat has just been confirmed.
func openLocal(t *testing.T, maxBytes int64) *localCache {
	lc := newLocalCache(LocalOptions{MaxStaleness: time.Minute, MaxBytes: maxBytes})
	lc.confirm(lc.round(), lc.now())
	if !lc.open() {
		t.Fatal("a confirmed local cache is closed")
	}
	return lc
}

func TestLocalPutIsRefusedAfterAnInvalidationOfItsStamps(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after func(lc *localCache)
		kept  bool
	}{
		{"nothing", func(*localCache) {}, true},
		{"another stamp", func(lc *localCache) { lc.invalidated([]string{"other"}) }, true},
		{"its stamp", func(lc *localCache) { lc.invalidated([]string{"s2"}) }, false},
		{"everything", func(lc *localCache) { lc.flush() }, false},
		{"lost", func(lc *localCache) { lc.lost() }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lc := openLocal(t, 0)
			seq0 := lc.begin() // the lookup begins
			tc.after(lc)       // an invalidation arrives while it runs
			lc.confirm(lc.round(), lc.now())
			lc.put("k", "rec", []string{"s1", "s2"}, seq0, 10, time.Minute)
			if _, ok := lc.get("k"); ok != tc.kept {
				t.Fatalf("kept %v, want %v", ok, tc.kept)
			}
		})
	}
}

func TestLocalInvalidationDropsTheEntriesOfItsStamps(t *testing.T) {
	lc := openLocal(t, 0)
	lc.put("a", 1, []string{"s1", "all"}, lc.begin(), 10, time.Minute)
	lc.put("b", 2, []string{"s2", "all"}, lc.begin(), 10, time.Minute)
	lc.invalidated([]string{"s1"})
	if _, ok := lc.get("a"); ok {
		t.Fatal("a survived the invalidation of its stamp")
	}
	if _, ok := lc.get("b"); !ok {
		t.Fatal("too coarse: b went with a's stamp")
	}
	lc.invalidated([]string{"all"})
	if _, ok := lc.get("b"); ok {
		t.Fatal("b survived the invalidation of its stamp")
	}
	if n, bytes := lc.size(); n != 0 || bytes != 0 {
		t.Fatalf("%d entries, %d bytes left", n, bytes)
	}
}

func TestLocalGateClosesWithoutAHeartbeat(t *testing.T) {
	lc := newLocalCache(LocalOptions{MaxStaleness: 50 * time.Millisecond})
	lc.put("k", 1, nil, lc.begin(), 10, time.Minute)
	if _, ok := lc.get("k"); ok {
		t.Fatal("served before any heartbeat")
	}
	gen := lc.round()
	lc.confirm(gen, lc.now())
	lc.put("k", 1, nil, lc.begin(), 10, time.Minute)
	if _, ok := lc.get("k"); !ok {
		t.Fatal("not served after a heartbeat")
	}
	time.Sleep(60 * time.Millisecond)
	if _, ok := lc.get("k"); ok {
		t.Fatal("served with a heartbeat older than MaxStaleness")
	}
	// A round begun before a loss confirms nothing after it.
	gen = lc.round()
	sent := lc.now()
	lc.lost()
	lc.confirm(gen, sent)
	if lc.open() {
		t.Fatal("a round begun before the loss reopened the layer")
	}
	lc.skipHeartbeat.Store(true)
	if !lc.open() {
		t.Fatal("the test hook did not open the layer")
	}
}

func TestLocalEntriesExpireWithTheirTTL(t *testing.T) {
	lc := openLocal(t, 0)
	lc.put("k", 1, nil, lc.begin(), 10, 20*time.Millisecond)
	time.Sleep(30 * time.Millisecond)
	if _, ok := lc.get("k"); ok {
		t.Fatal("an entry outlived its TTL")
	}
}

func TestLocalMemoryIsBounded(t *testing.T) {
	const maxBytes = 1 << 20
	lc := openLocal(t, maxBytes)
	for i := range 20000 {
		lc.put(fmt.Sprint(i), i, []string{fmt.Sprint("s", i%100), "all"}, lc.begin(), 500, time.Minute)
	}
	n, bytes := lc.size()
	if bytes > maxBytes || n == 0 {
		t.Fatalf("%d entries counted as %d bytes, bound %d", n, bytes, maxBytes)
	}
	// The index follows evictions: invalidating everything leaves nothing.
	lc.invalidated([]string{"all"})
	if n, bytes := lc.size(); n != 0 || bytes != 0 {
		t.Fatalf("%d entries, %d bytes left", n, bytes)
	}
	for i := range lc.shards {
		if len(lc.shards[i].byStamp) != 0 {
			t.Fatalf("shard %d indexes %d stamps of evicted entries", i, len(lc.shards[i].byStamp))
		}
	}
}

// Concurrent puts and invalidations of the same stamp: whatever the
// interleaving, no entry put by a lookup that began before an invalidation
// survives it.
func TestLocalPutRacingAnInvalidation(t *testing.T) {
	lc := openLocal(t, 0)
	for round := range 2000 {
		key := fmt.Sprint(round % 7)
		seq0 := lc.begin()
		done := make(chan struct{})
		go func() {
			lc.invalidated([]string{"s"})
			close(done)
		}()
		lc.put(key, round, []string{"s"}, seq0, 10, time.Minute)
		<-done
		if _, ok := lc.get(key); ok {
			t.Fatalf("round %d: an entry read before an invalidation survived it", round)
		}
	}
}
