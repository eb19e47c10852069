package lua

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
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

// Store runs the cache's Redis steps on a client.
type Store struct {
	rdb redis.UniversalClient
}

// NewStore returns a Store on rdb.
func NewStore(rdb redis.UniversalClient) *Store { return &Store{rdb: rdb} }

// Client returns the Redis client.
func (s *Store) Client() redis.UniversalClient { return s.rdb }

// Lookup fetches an entry and its stamps in one round trip (MGET: atomic, and
// cheaper than a script). On a valid hit it returns the payload, tokens
// stripped, and the tokens. Otherwise payload is nil: the caller registers
// and reads the stamps with Register before it runs the query.
func (s *Store) Lookup(ctx context.Context, entry string, stamps []string) (payload []byte, tokens string, err error) {
	keys := make([]string, 0, 1+len(stamps))
	keys = append(append(keys, entry), stamps...)
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, "", err
	}
	if len(vals) != len(keys) {
		return nil, "", ErrBadReply
	}
	payload, tokens = validEntry(vals)
	return payload, tokens, nil
}

// validEntry reads an MGET reply of an entry and its stamps: the payload and
// tokens when every stamp holds the token the entry recorded, else nil.
func validEntry(vals []any) (payload []byte, tokens string) {
	e, ok := vals[0].(string)
	head := (len(vals) - 1) * TokenLen
	if !ok || len(e) < head {
		return nil, ""
	}
	for i, v := range vals[1:] {
		if t, ok := v.(string); !ok || t != e[i*TokenLen:(i+1)*TokenLen] {
			return nil, "" // also a stamp that holds something else: a miss
		}
	}
	return []byte(e[head:]), e[:head]
}

// LookupLocked is Lookup that also reports whether a fill lock is held, in
// the same round trip: a process waiting for another's fill stops waiting
// when the lock is released without an entry.
func (s *Store) LookupLocked(ctx context.Context, entry string, stamps []string, lock string) (payload []byte, held bool, err error) {
	keys := make([]string, 0, 2+len(stamps))
	keys = append(append(append(keys, entry), stamps...), lock)
	vals, err := s.rdb.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, false, err
	}
	if len(vals) != len(keys) {
		return nil, false, ErrBadReply
	}
	payload, _ = validEntry(vals[:len(vals)-1])
	return payload, vals[len(vals)-1] != nil, nil
}

// Registration puts a reader's schemes in a relation's schemes set.
type Registration struct {
	Set        string   // the schemes set
	TableStamp string   // deleted when the set is created afresh
	Schemes    []string // the reader's schemes on this relation
}

// Register runs the miss path's first step in one round trip: it registers
// the reader's schemes, then returns the stamps' tokens, creating the
// missing ones, for the guarded Put after the query.
func (s *Store) Register(ctx context.Context, regs []Registration, stamps []string, ttl time.Duration) (string, error) {
	keys := make([]string, 0, 2*len(regs)+len(stamps))
	args := make([]any, 0, 3+len(regs)*2)
	args = append(args, NewToken(), seconds(ttl), len(regs))
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
	keys = append(keys, stamps...)
	v, err := registerScript.Run(ctx, s.rdb, keys, args...).Text()
	if err != nil {
		return "", err
	}
	if len(v) != len(stamps)*TokenLen {
		return "", fmt.Errorf("%w: %d token bytes for %d stamps", ErrBadReply, len(v), len(stamps))
	}
	return v, nil
}

// Put stores tokens+payload under entry if every stamp still holds the token
// in tokens. It reports whether the entry was stored.
func (s *Store) Put(ctx context.Context, entry string, stamps []string, tokens string, payload []byte, ttl time.Duration) (bool, error) {
	keys := make([]string, 0, 1+len(stamps))
	keys = append(append(keys, entry), stamps...)
	value := make([]byte, 0, len(tokens)+len(payload))
	value = append(append(value, tokens...), payload...)
	n, err := storeScript.Run(ctx, s.rdb, keys, TokenLen, seconds(ttl), value).Int()
	return n == 1, err
}

// Schemes reads the schemes sets of the relations a write changed, in one
// round trip. A set that does not exist comes back nil: its relation must be
// invalidated whole.
func (s *Store) Schemes(ctx context.Context, sets []string) ([][]string, error) {
	if len(sets) == 0 {
		return nil, nil
	}
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringSliceCmd, len(sets))
	for i, k := range sets {
		cmds[i] = pipe.SMembers(ctx, k)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, err
	}
	out := make([][]string, len(sets))
	for i, c := range cmds {
		out[i] = c.Val()
	}
	return out, nil
}

// MaxStampsPerCall bounds the stamps one invalidation script call deletes:
// a bigger invalidation is sent as several calls in one pipeline (one round
// trip), so no request grows without bound.
const MaxStampsPerCall = 4096

// Invalidate deletes stamps, any number of them.
func (s *Store) Invalidate(ctx context.Context, stamps []string) error {
	_, err := s.InvalidateChecked(ctx, "", "", stamps)
	return err
}

// InvalidateChecked deletes stamps, any number of them: in one script call
// per MaxStampsPerCall stamps, pipelined. Deleting is idempotent, so a partly
// delivered invalidation is simply sent again whole. When schemaStamp is set
// it also reports whether that stamp still holds token, read before anything
// is deleted: false means the writer planned with an old catalog.
func (s *Store) InvalidateChecked(ctx context.Context, schemaStamp, token string, stamps []string) (current bool, err error) {
	if len(stamps) == 0 {
		return true, nil
	}
	call := func(c redis.Scripter, i int, run func(context.Context, redis.Scripter, []string, ...any) *redis.Cmd) *redis.Cmd {
		chunk := stamps[i:min(i+MaxStampsPerCall, len(stamps))]
		if i > 0 || schemaStamp == "" {
			return run(ctx, c, chunk)
		}
		return run(ctx, c, append([]string{schemaStamp}, chunk...), token)
	}
	if len(stamps) <= MaxStampsPerCall {
		n, err := call(s.rdb, 0, invalidateScript.Run).Int()
		return n == 1, err
	}
	// Load the script once, so that the pipelined EVALSHAs find it.
	if err := invalidateScript.Load(ctx, s.rdb).Err(); err != nil {
		return false, err
	}
	pipe := s.rdb.Pipeline()
	first := call(pipe, 0, invalidateScript.EvalSha)
	for i := MaxStampsPerCall; i < len(stamps); i += MaxStampsPerCall {
		call(pipe, i, invalidateScript.EvalSha)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return false, err
	}
	n, err := first.Int()
	return n == 1, err
}

// SchemaToken returns the token of the schema stamp, creating it when it is
// missing: a process reads it before it reads its catalog, and a write or a
// read planned with that catalog is current while the stamp holds it.
func (s *Store) SchemaToken(ctx context.Context, key string, ttl time.Duration) (string, error) {
	return schemaScript.Run(ctx, s.rdb, []string{key}, NewToken(), seconds(ttl)).Text()
}

// Lock takes a fill lock for ttl if nobody holds it.
func (s *Store) Lock(ctx context.Context, key, token string, ttl time.Duration) (bool, error) {
	return s.rdb.SetNX(ctx, key, token, ttl).Result()
}

// Unlock releases a fill lock the caller holds.
func (s *Store) Unlock(ctx context.Context, key, token string) error {
	return unlockScript.Run(ctx, s.rdb, []string{key}, token).Err()
}

// Delete removes keys that hold something undecodable.
func (s *Store) Delete(ctx context.Context, keys ...string) error {
	return s.rdb.Del(ctx, keys...).Err()
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
	s := int64(d / time.Second)
	if s < 1 {
		s = 1
	}
	return strconv.FormatInt(s, 10)
}
