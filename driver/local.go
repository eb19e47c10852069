package driver

import (
	"hash/maphash"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/golang-lru/v2/simplelru"

	"github.com/cacheops/cacheops/serialize"
)

// LocalOptions turn on the local layer: results kept in process memory,
// served without Redis while the tracking connections (see localTracker)
// have been heard from within MaxStaleness.
type LocalOptions struct {
	// MaxStaleness bounds how old a local hit may be: a read reflects every
	// write made through cacheops (in any process) that finished more than
	// MaxStaleness before it started. Zero: the local layer is off.
	MaxStaleness time.Duration
	// MaxBytes bounds the memory the local layer holds (estimated from
	// each entry's rows, values and stamps); the least recently used
	// entries go first. Zero: 64 MiB.
	MaxBytes int64
}

// DefaultLocalMaxBytes is the local layer's memory bound by default.
const DefaultLocalMaxBytes = 64 << 20

const (
	// localShards spreads the local entries over up to this many locks,
	// each bounding at least localShardMin bytes (an entry larger than its
	// shard's bound is not kept).
	localShards   = 64
	localShardMin = 256 << 10
	// localBuckets is how many stamp hashes remember their last
	// invalidation; two stamps in one bucket only cost a refused insert.
	localBuckets = 1 << 12
	// localEntryOverhead is what an entry costs besides its result and its
	// stamps: the LRU's element and map slot, the entry itself.
	localEntryOverhead = 256
)

// localSize estimates the memory an entry holds: its key (the call's
// material), its decoded result (which keeps the payload: text values
// slice it), the stamps and their places in the index. The bench checks it
// against the Go heap.
func localSize(key string, rec any, payload int, stamps []string) int64 {
	n := localEntryOverhead + len(key) + payload
	switch r := rec.(type) {
	case *serialize.Result:
		n += 64 * len(r.Columns)
		for _, row := range r.Rows {
			n += 32 + 40*len(row) // the row's slice, each value's interface and box
		}
	case *serialize.Wire:
		n += 128 * len(r.Fields)
		for _, row := range r.Rows {
			n += 24 + 24*len(row) // the row's slice and each value's (the bytes are counted in payload)
		}
	}
	for _, st := range stamps {
		n += 16 + len(st) + 96 // the string, and its key in the stamp's index set
	}
	return int64(n)
}

// localCache is the local layer's memory. Its entries are decoded results,
// each with the stamps it depends on. An invalidation (told by Redis, or
// made by this process) drops the entries of its stamps at once, and
// refuses an entry read from Redis before it: every insert says which
// invalidation count it read before its lookup (begin), and is refused if
// one of its stamps was invalidated since.
type localCache struct {
	maxStale time.Duration
	seed     maphash.Seed
	base     time.Time
	// seq counts invalidations; floor is the count of the last one that
	// dropped everything.
	seq, floor atomic.Uint64
	// bumped is, per stamp hash, the count of its last invalidation.
	bumped [localBuckets]atomic.Uint64
	// confirmed is when (ns since base) the PINGs were sent that every
	// tracking connection answered last; 0: not since one was lost. gen
	// counts the losses, so that a round of PINGs begun before one cannot
	// confirm after it.
	confirmed atomic.Int64
	mu        sync.Mutex // guards gen, and confirmed's changes
	gen       uint64
	// skipHeartbeat serves local hits however old the heartbeat is (a test
	// proves its checker sees what follows).
	skipHeartbeat atomic.Bool
	shards        []localShard
}

type localShard struct {
	mu      sync.Mutex
	lru     *simplelru.LRU[string, *localEntry]
	bytes   int64
	max     int64
	byStamp map[string]map[string]struct{} // stamp → keys of its entries
}

type localEntry struct {
	rec     any
	stamps  []string
	size    int64
	expires int64 // ns since base
}

func newLocalCache(o LocalOptions) *localCache {
	maxBytes := o.MaxBytes
	if maxBytes <= 0 {
		maxBytes = DefaultLocalMaxBytes
	}
	lc := &localCache{maxStale: o.MaxStaleness, seed: maphash.MakeSeed(), base: time.Now()}
	lc.shards = make([]localShard, min(localShards, max(1, maxBytes/localShardMin)))
	for i := range lc.shards {
		lc.shards[i].max = maxBytes / int64(len(lc.shards))
		lc.shards[i].reset()
	}
	return lc
}

func (s *localShard) reset() {
	s.lru, _ = simplelru.NewLRU[string, *localEntry](1<<30, s.evicted)
	s.bytes = 0
	s.byStamp = map[string]map[string]struct{}{}
}

// evicted keeps the shard's index and size with its LRU (any removal).
func (s *localShard) evicted(key string, e *localEntry) {
	s.bytes -= e.size
	for _, st := range e.stamps {
		if set := s.byStamp[st]; set != nil {
			delete(set, key)
			if len(set) == 0 {
				delete(s.byStamp, st)
			}
		}
	}
}

func (lc *localCache) now() int64 { return int64(time.Since(lc.base)) }

func (lc *localCache) shard(key string) *localShard {
	return &lc.shards[maphash.String(lc.seed, key)%uint64(len(lc.shards))]
}

func (lc *localCache) bucket(stamp string) *atomic.Uint64 {
	return &lc.bumped[maphash.String(lc.seed, stamp)%localBuckets]
}

// open reports whether local hits may be served now.
func (lc *localCache) open() bool {
	if lc.skipHeartbeat.Load() {
		return true
	}
	c := lc.confirmed.Load()
	return c != 0 && lc.now()-c <= int64(lc.maxStale)
}

// get returns the entry under key, if local hits may be served.
func (lc *localCache) get(key string) (any, bool) {
	if !lc.open() {
		return nil, false
	}
	s := lc.shard(key)
	s.mu.Lock()
	e, ok := s.lru.Get(key)
	if ok && e.expires < lc.now() {
		s.lru.Remove(key)
		ok = false
	}
	s.mu.Unlock()
	if !ok {
		return nil, false
	}
	return e.rec, true
}

// begin is read before a lookup whose result may be put.
func (lc *localCache) begin() uint64 { return lc.seq.Load() }

// put keeps rec, read from Redis valid for stamps by a lookup that began at
// seq0, unless one of its stamps was invalidated since.
func (lc *localCache) put(key string, rec any, stamps []string, seq0 uint64, payload int, ttl time.Duration) {
	if !lc.open() {
		return // the tracking connections may not be there to drop it
	}
	e := &localEntry{rec: rec, stamps: stamps, size: localSize(key, rec, payload, stamps), expires: lc.now() + int64(ttl)}
	s := lc.shard(key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if e.size > s.max || lc.floor.Load() > seq0 {
		return
	}
	for _, st := range stamps {
		if lc.bucket(st).Load() > seq0 {
			return
		}
	}
	s.lru.Remove(key)
	s.lru.Add(key, e)
	s.bytes += e.size
	for _, st := range stamps {
		set := s.byStamp[st]
		if set == nil {
			set = map[string]struct{}{}
			s.byStamp[st] = set
		}
		set[key] = struct{}{}
	}
	for s.bytes > s.max {
		s.lru.RemoveOldest()
	}
}

// invalidated drops the entries that depend on stamps, and refuses the
// inserts of lookups begun before now that depend on them.
func (lc *localCache) invalidated(stamps []string) {
	n := lc.seq.Add(1)
	for _, st := range stamps {
		lc.bucket(st).Store(n)
	}
	for i := range lc.shards {
		s := &lc.shards[i]
		s.mu.Lock()
		for _, st := range stamps {
			for key := range s.byStamp[st] {
				s.lru.Remove(key) // evicted edits byStamp[st]: allowed while ranging
			}
		}
		s.mu.Unlock()
	}
}

// flush drops every entry, and refuses the inserts of lookups begun
// before now.
func (lc *localCache) flush() {
	lc.floor.Store(lc.seq.Add(1))
	for i := range lc.shards {
		s := &lc.shards[i]
		s.mu.Lock()
		s.reset()
		s.mu.Unlock()
	}
}

// lost closes the local layer until the tracking connections are back and
// confirmed, and empties it: what changed meanwhile is unknown.
func (lc *localCache) lost() {
	lc.mu.Lock()
	lc.gen++
	lc.confirmed.Store(0)
	lc.mu.Unlock()
	lc.flush()
}

// round is read before a round of PINGs, for confirm.
func (lc *localCache) round() uint64 {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	return lc.gen
}

// confirm records that PINGs sent at sent (ns since base), in a round begun
// at gen, were answered by every tracking connection.
func (lc *localCache) confirm(gen uint64, sent int64) {
	lc.mu.Lock()
	defer lc.mu.Unlock()
	if gen == lc.gen && sent > lc.confirmed.Load() {
		lc.confirmed.Store(sent)
	}
}

// size returns the entries and the bytes they are counted for.
func (lc *localCache) size() (entries int, bytes int64) {
	for i := range lc.shards {
		s := &lc.shards[i]
		s.mu.Lock()
		entries += s.lru.Len()
		bytes += s.bytes
		s.mu.Unlock()
	}
	return entries, bytes
}
