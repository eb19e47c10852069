package lua

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops/internal/direct"
)

// TokenLen is the length of a stamp token.
const TokenLen = 16

var (
	//go:embed register.lua
	registerSrc string
	//go:embed store.lua
	storeSrc string
	//go:embed invalidate.lua
	invalidateSrc string
	//go:embed unlock.lua
	unlockSrc string
	//go:embed schema.lua
	schemaSrc string

	registerScript   = redis.NewScript(registerSrc)
	storeScript      = redis.NewScript(storeSrc)
	invalidateScript = redis.NewScript(invalidateSrc)
	unlockScript     = redis.NewScript(unlockSrc)
	schemaScript     = redis.NewScript(schemaSrc)
)

// ErrBadReply is returned when Redis answers a script with something the
// script cannot have returned (a foreign value under a cacheops key).
var ErrBadReply = errors.New("cacheops/lua: unexpected reply")

// Store runs the cache's Redis steps on a client. On a single node (or a
// Sentinel-managed master) each step is one command or one script call; on
// Redis Cluster the same step is split by hash slot and sent as one
// pipeline (one round trip of wall time), a script call per slot.
type Store struct {
	client       *client
	lookups      atomic.Int32 // lookups in flight
	viaClient    atomic.Bool  // LookupsThroughClient
	waitReplicas int
	replicas     sync.Map // node address → replicaCount, for WAIT
	nodes        sync.Map // cluster node address → *breaker.Breaker, for invalidations
	// onInvalidated is told of every invalidation (OnInvalidated).
	onInvalidated atomic.Pointer[func(stamps []string)]
}

// NewStore returns a Store on rdb. A *redis.Client that turns out to talk
// to a Redis Cluster node (it answers MOVED, CROSSSLOT, …) is replaced by a
// cluster client with the same options.
func NewStore(rdb redis.UniversalClient) *Store { return &Store{client: newClient(rdb)} }

// Client returns the Redis client in use.
func (s *Store) Client() redis.UniversalClient { return s.client.current() }

// Close closes a cluster client the Store made itself (see NewStore).
func (s *Store) Close() error { return s.client.close() }

// Lookup fetches an entry and its stamps in one round trip (MGET: atomic, and
// cheaper than a script; on a cluster one MGET per slot, pipelined). On a
// valid hit it returns the payload, tokens stripped, and the tokens; the
// payload's bytes are the reply's, not copied: the caller may keep them and
// must never write them. Otherwise payload is nil: the caller registers and reads the stamps with
// Register before it runs the query.
func (s *Store) Lookup(ctx context.Context, entry string, stamps []string) (payload []byte, tokens string, err error) {
	keys := make([]string, 0, 1+len(stamps))
	keys = append(append(keys, entry), stamps...)
	vals, err := s.mget(ctx, keys)
	if err != nil {
		return nil, "", err
	}
	payload, tokens = validEntry(vals)
	return payload, tokens, nil
}

// mget reads keys in one round trip: one MGET, or one per slot. While
// other lookups are in flight it goes through go-redis' auto-pipeliner:
// concurrent lookups then share round trips (and Redis' system calls),
// which multiplies the hits a second Redis serves; alone, it is sent at
// once, over a connection of cacheops' own where the client allows it
// (directPool), else through the client.
func (s *Store) mget(ctx context.Context, keys []string) ([]direct.Value, error) {
	st := s.client.cur.Load()
	rdb, cluster := st.rdb, st.cluster
	if !cluster || sameSlot(keys) {
		var c redis.Cmdable = rdb
		if s.lookups.Add(1) > 1 {
			if ap := st.pipeliner(); ap != nil {
				c = ap
			}
		} else if p := st.lookupPool(ctx, keys, s.viaClient.Load()); p != nil {
			vals := make([]direct.Value, len(keys))
			err := p.MGet(ctx, keys, vals)
			if !cluster || !redirected(err) {
				s.lookups.Add(-1)
				s.client.observe(err)
				return vals, err
			}
		}
		got, err := c.MGet(ctx, keys...).Result()
		s.lookups.Add(-1)
		s.client.observe(err)
		if err == nil && len(got) != len(keys) {
			err = ErrBadReply
		}
		if err != nil {
			return nil, err
		}
		return values(got), nil
	}
	groups := bySlot(len(keys), func(i int) string { return keys[i] })
	pipe := rdb.Pipeline()
	cmds := make([]*redis.SliceCmd, len(groups))
	for i, g := range groups {
		cmds[i] = pipe.MGet(ctx, pick(keys, g.idx)...)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		s.client.observe(err)
		return nil, err
	}
	vals := make([]direct.Value, len(keys))
	for i, g := range groups {
		got := cmds[i].Val()
		if len(got) != len(g.idx) {
			return nil, ErrBadReply
		}
		for j, k := range g.idx {
			vals[k] = value(got[j])
		}
	}
	return vals, nil
}

// values are go-redis' MGET reply as the direct path gives it.
func values(got []any) []direct.Value {
	vals := make([]direct.Value, len(got))
	for i, v := range got {
		vals[i] = value(v)
	}
	return vals
}

// value is one value of an MGET reply: a string, or none (anything else
// go-redis could give is none too: a miss).
func value(v any) direct.Value {
	if s, ok := v.(string); ok {
		return direct.Value{S: s}
	}
	return direct.Value{Nil: true}
}

// LookupsThroughClient sends lookups through the go-redis client even
// where a connection of cacheops' own could (its hooks then see them).
func (s *Store) LookupsThroughClient() { s.viaClient.Store(true) }

// validEntry reads an MGET reply of an entry and its stamps: the payload and
// tokens when every stamp holds the token the entry recorded, else nil.
func validEntry(vals []direct.Value) (payload []byte, tokens string) {
	e := vals[0]
	head := (len(vals) - 1) * TokenLen
	if e.Nil || len(e.S) < head {
		return nil, ""
	}
	for i, v := range vals[1:] {
		if v.Nil || v.S != e.S[i*TokenLen:(i+1)*TokenLen] {
			return nil, "" // also a stamp that holds something else: a miss
		}
	}
	return readOnly(e.S[head:]), e.S[:head]
}

// readOnly returns a string's bytes without a copy (a reply's payload is
// decoded once, in place). They must never be written.
func readOnly(s string) []byte {
	if s == "" {
		return []byte{} // present, if empty: a corrupt entry, not a miss
	}
	return unsafe.Slice(unsafe.StringData(s), len(s))
}

// LookupLocked is Lookup that also reports whether a fill lock is held, in
// the same round trip: a process waiting for another's fill stops waiting
// when the lock is released without an entry.
func (s *Store) LookupLocked(ctx context.Context, entry string, stamps []string, lock string) (payload []byte, held bool, err error) {
	keys := make([]string, 0, 2+len(stamps))
	keys = append(append(append(keys, entry), stamps...), lock)
	vals, err := s.mget(ctx, keys)
	if err != nil {
		return nil, false, err
	}
	payload, _ = validEntry(vals[:len(vals)-1])
	return payload, !vals[len(vals)-1].Nil, nil
}

// Registration puts a reader's schemes in a relation's schemes set.
type Registration struct {
	Set        string   // the schemes set
	TableStamp string   // deleted when the set is created afresh; in Set's slot
	Schemes    []string // the reader's schemes on this relation
}

// Register runs the miss path's first step in one round trip: it registers
// the reader's schemes, then returns the stamps' tokens, creating the
// missing ones, for the guarded Put after the query. On a cluster it runs
// one script call per slot.
func (s *Store) Register(ctx context.Context, regs []Registration, stamps []string, ttl time.Duration) (string, error) {
	_, tokens, err := s.register(ctx, "", regs, stamps, ttl)
	return tokens, err
}

// LookupOrRegister is Lookup and, on a miss, Register, in one round trip
// where the keys share a node's slot (a single node, or a read whose keys
// share a hash tag), else in two. It costs Redis more than Lookup's MGET:
// it is for reads that mostly miss.
func (s *Store) LookupOrRegister(ctx context.Context, entry string, regs []Registration, stamps []string, ttl time.Duration) (payload []byte, tokens string, err error) {
	return s.register(ctx, entry, regs, stamps, ttl)
}

// register runs register.lua; with an entry, as the lookup too.
func (s *Store) register(ctx context.Context, entry string, regs []Registration, stamps []string, ttl time.Duration) (payload []byte, tokens string, err error) {
	rdb, cluster := s.client.get()
	token, secs := NewToken(), seconds(ttl)
	if cluster && !sameSlot(registerKeys(entry, regs, stamps)) {
		if entry != "" {
			if payload, tokens, err = s.Lookup(ctx, entry, stamps); err != nil || payload != nil {
				return payload, tokens, err
			}
		}
		tokens, err = s.registerSlots(ctx, rdb, regs, stamps, token, secs)
		return nil, tokens, err
	}
	c := registerCall(entry, regs, stamps, token, secs)
	err = c.run(ctx, rdb).Err()
	s.client.observe(err)
	if err != nil {
		return nil, "", err
	}
	return registerReply(c.cmd, len(stamps))
}

// registerReply reads register.lua's reply: a valid entry (tokens and
// payload split) or the tokens of n stamps.
func registerReply(cmd *redis.Cmd, n int) (payload []byte, tokens string, err error) {
	v, err := cmd.Slice()
	if err != nil {
		return nil, "", err
	}
	var hit int64
	var s string
	if len(v) == 2 {
		hit, _ = v[0].(int64)
		s, _ = v[1].(string)
	}
	switch {
	case hit == 1 && len(s) >= n*TokenLen:
		return readOnly(s[n*TokenLen:]), s[:n*TokenLen], nil
	case hit == 0 && len(s) == n*TokenLen:
		return nil, s, nil
	}
	return nil, "", fmt.Errorf("%w: %v for %d stamps", ErrBadReply, v, n)
}

// registerKeys are every key of a register call.
func registerKeys(entry string, regs []Registration, stamps []string) []string {
	keys := make([]string, 0, 1+2*len(regs)+len(stamps))
	if entry != "" {
		keys = append(keys, entry)
	}
	for _, r := range regs {
		keys = append(keys, r.Set, r.TableStamp)
	}
	return append(keys, stamps...)
}

// registerSlots registers on a cluster whose keys spread over slots: one
// script call per slot, in one pipeline.
func (s *Store) registerSlots(ctx context.Context, rdb redis.UniversalClient, regs []Registration, stamps []string, token, secs string) (string, error) {
	for _, r := range regs {
		if Slot(r.Set) != Slot(r.TableStamp) {
			return "", fmt.Errorf("cacheops/lua: %q and %q are in different slots", r.Set, r.TableStamp)
		}
	}
	// Group registrations and stamps by slot: keys 0..len(regs)-1 are the
	// registrations' sets, the rest the stamps.
	groups := bySlot(len(regs)+len(stamps), func(i int) string {
		if i < len(regs) {
			return regs[i].Set
		}
		return stamps[i-len(regs)]
	})
	calls := make([]*call, len(groups))
	counts := make([]int, len(groups))
	for i, g := range groups {
		var gregs []Registration
		var gstamps []string
		for _, k := range g.idx {
			if k < len(regs) {
				gregs = append(gregs, regs[k])
			} else {
				gstamps = append(gstamps, stamps[k-len(regs)])
			}
		}
		calls[i], counts[i] = registerCall("", gregs, gstamps, token, secs), len(gstamps)
	}
	if err := s.runAll(ctx, rdb, calls); err != nil {
		return "", err
	}
	out := make([]byte, len(stamps)*TokenLen)
	for i, g := range groups {
		_, v, err := registerReply(calls[i].cmd, counts[i])
		if err != nil {
			return "", err
		}
		n := 0
		for _, k := range g.idx {
			if k < len(regs) {
				continue
			}
			k -= len(regs)
			copy(out[k*TokenLen:], v[n*TokenLen:(n+1)*TokenLen])
			n++
		}
	}
	return string(out), nil
}

func registerCall(entry string, regs []Registration, stamps []string, token, ttl string) *call {
	keys := make([]string, 0, 1+2*len(regs)+len(stamps))
	args := make([]any, 0, 4+len(regs)*2)
	withEntry := 0
	if entry != "" {
		keys, withEntry = append(keys, entry), 1
	}
	args = append(args, token, ttl, len(regs), withEntry)
	for _, r := range regs {
		keys = append(keys, r.Set)
		args = append(args, len(r.Schemes))
	}
	for _, r := range regs {
		keys = append(keys, r.TableStamp)
		for _, sc := range r.Schemes {
			args = append(args, sc)
		}
	}
	return &call{script: registerScript, keys: append(keys, stamps...), args: args}
}

// Put stores tokens+payload under entry if every stamp still holds the token
// in tokens. It reports whether the entry was stored. On a cluster the
// entry's slot stores it after checking the stamps of that slot; the other
// slots check theirs and keep them alive. A stamp of another slot that
// changed meanwhile leaves an entry that no lookup accepts: its recorded
// token no longer matches.
func (s *Store) Put(ctx context.Context, entry string, stamps []string, tokens string, payload []byte, ttl time.Duration) (bool, error) {
	rdb, cluster := s.client.get()
	value := make([]byte, 0, len(tokens)+len(payload))
	value = append(append(value, tokens...), payload...)
	secs := seconds(ttl)
	if !cluster {
		keys := make([]string, 0, 1+len(stamps))
		keys = append(append(keys, entry), stamps...)
		n, err := storeCall(keys, tokens, secs, value).run(ctx, rdb).Int()
		s.client.observe(err)
		return n == 1, err
	}
	// Key 0 is the entry, key i+1 stamp i (whose token is tokens[i]).
	groups := bySlot(1+len(stamps), func(i int) string {
		if i == 0 {
			return entry
		}
		return stamps[i-1]
	})
	calls := make([]*call, len(groups))
	for i, g := range groups {
		var keys []string
		var toks []byte
		withEntry := g.idx[0] == 0
		for _, k := range g.idx {
			if k == 0 {
				keys = append(keys, entry)
				continue
			}
			keys = append(keys, stamps[k-1])
			toks = append(toks, tokens[(k-1)*TokenLen:k*TokenLen]...)
		}
		if withEntry {
			calls[i] = storeCall(keys, string(toks), secs, value)
		} else {
			calls[i] = storeCall(keys, string(toks), secs, nil)
		}
	}
	if err := s.runAll(ctx, rdb, calls); err != nil {
		return false, err
	}
	n, err := calls[0].cmd.Int() // the entry is in the first group
	return n == 1, err
}

// storeCall checks stamps against tokens (and keeps them alive); with a
// value, keys[0] is the entry and is stored when every check passes.
func storeCall(keys []string, tokens, ttl string, value []byte) *call {
	args := []any{TokenLen, ttl, tokens}
	if value != nil {
		args = append(args, value)
	}
	return &call{script: storeScript, keys: keys, args: args}
}

// Schemes reads the schemes sets of the relations a write changed, in one
// round trip (one script call per slot), marking a set that has no marker.
func (s *Store) Schemes(ctx context.Context, sets []string) ([]SchemesSet, error) {
	if len(sets) == 0 {
		return nil, nil
	}
	checks := make([]Check, len(sets))
	for i, k := range sets {
		checks[i] = ReadSet(k)
	}
	stale, _, err := s.InvalidateChecked(ctx, checks, nil)
	if err != nil {
		return nil, err
	}
	if len(stale) != len(sets) {
		return nil, fmt.Errorf("%w: %d schemes sets for %d", ErrBadReply, len(stale), len(sets))
	}
	out := make([]SchemesSet, len(sets))
	for _, st := range stale {
		out[st.Check] = st.Set
	}
	return out, nil
}

// SchemaTokens returns the tokens of the schema stamps (one per hash tag),
// concatenated in the order of keys, creating those that are missing: a
// process reads them before it reads its catalog, and a write or a read
// planned with that catalog is current while the stamps of its tags hold
// them.
func (s *Store) SchemaTokens(ctx context.Context, keys []string, ttl time.Duration) (string, error) {
	rdb, cluster := s.client.get()
	token, secs := NewToken(), seconds(ttl)
	groups := []slotGroup{{idx: make([]int, len(keys))}}
	if cluster {
		groups = bySlot(len(keys), func(i int) string { return keys[i] })
	} else {
		for i := range keys {
			groups[0].idx[i] = i
		}
	}
	calls := make([]*call, len(groups))
	for i, g := range groups {
		calls[i] = &call{script: schemaScript, keys: pick(keys, g.idx), args: []any{token, secs}}
	}
	if err := s.runAll(ctx, rdb, calls); err != nil {
		return "", err
	}
	out := make([]byte, len(keys)*TokenLen)
	for i, g := range groups {
		v, err := calls[i].cmd.Text()
		if err != nil {
			return "", err
		}
		if len(v) != len(g.idx)*TokenLen {
			return "", fmt.Errorf("%w: %d token bytes for %d schema stamps", ErrBadReply, len(v), len(g.idx))
		}
		for j, k := range g.idx {
			copy(out[k*TokenLen:], v[j*TokenLen:(j+1)*TokenLen])
		}
	}
	return string(out), nil
}

// Lock takes a fill lock for ttl if nobody holds it.
func (s *Store) Lock(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	rdb, _ := s.client.get()
	ok, err := rdb.SetNX(ctx, key, token, ttl).Result()
	s.client.observe(err)
	return ok, err
}

// Unlock releases a fill lock the caller holds.
func (s *Store) Unlock(ctx context.Context, key, token string) error {
	rdb, _ := s.client.get()
	err := unlockScript.Run(ctx, rdb, []string{key}, token).Err()
	s.client.observe(err)
	return err
}

// Delete removes a key that holds something undecodable.
func (s *Store) Delete(ctx context.Context, key string) error {
	rdb, _ := s.client.get()
	err := rdb.Del(ctx, key).Err()
	s.client.observe(err)
	return err
}

// NewToken returns a random stamp token. Tokens need to be unique, not
// secret; the generator is goroutine-safe and needs no system call.
func NewToken() string {
	var b [TokenLen]byte
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ-_"
	for i := 0; i < TokenLen; i += 8 {
		r := rand.Uint64()
		for j := 0; j < 8 && i+j < TokenLen; j++ {
			b[i+j] = alphabet[r&63]
			r >>= 6
		}
	}
	return string(b[:])
}

func seconds(d time.Duration) string {
	s := int64((d + time.Second - 1) / time.Second) // Redis keeps whole seconds: round up
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}

// Ping checks that Redis answers, on every master of a cluster: it returns
// the first error (unreachable, refused credentials, a database number the
// server does not have, a cluster that is down).
func (s *Store) Ping(ctx context.Context) error {
	rdb, _ := s.client.get()
	var err error
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		err = cc.ForEachMaster(ctx, func(ctx context.Context, c *redis.Client) error { return c.Ping(ctx).Err() })
	} else {
		err = rdb.Ping(ctx).Err()
	}
	s.client.observe(err)
	return err
}
