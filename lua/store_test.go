package lua

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// These run against the real Redis server (CACHEOPS_TEST_REDIS).
func testStore(t *testing.T) (*Store, string) {
	t.Helper()
	url := os.Getenv("CACHEOPS_TEST_REDIS")
	if url == "" {
		url = "redis://127.0.0.1:6379/9"
	}
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	t.Cleanup(func() { rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Fatalf("Redis is not reachable at %s: %v", url, err)
	}
	return NewStore(rdb), "luatest:" + t.Name() + ":" + NewToken() + ":"
}

func TestLookupRegisterStoreInvalidate(t *testing.T) {
	s, p := testStore(t)
	ctx := context.Background()
	entry, stamps := p+"e", []string{p + "s1", p + "s2"}

	payload, _, err := s.Lookup(ctx, entry, stamps)
	if err != nil || payload != nil {
		t.Fatalf("first lookup: %q %v", payload, err)
	}
	tokens, err := s.Register(ctx, nil, stamps, time.Minute)
	if err != nil || len(tokens) != 2*TokenLen {
		t.Fatalf("register: %q %v", tokens, err)
	}
	stored, err := s.Put(ctx, entry, stamps, tokens, []byte("result"), time.Minute)
	if err != nil || !stored {
		t.Fatalf("put: %v %v", stored, err)
	}
	payload, hitTokens, err := s.Lookup(ctx, entry, stamps)
	if err != nil || string(payload) != "result" || hitTokens != tokens {
		t.Fatalf("hit: %q %v", payload, err)
	}
	if ttl := s.Client().TTL(ctx, stamps[0]).Val(); ttl < 50*time.Second {
		t.Fatalf("a stamp must outlive its entries, ttl %v", ttl)
	}
	if _, err := s.Invalidate(ctx, stamps[1:]); err != nil {
		t.Fatal(err)
	}
	if payload, _, err = s.Lookup(ctx, entry, stamps); err != nil || payload != nil {
		t.Fatalf("after invalidation: %q %v", payload, err)
	}
	fresh, err := s.Register(ctx, nil, stamps, time.Minute)
	if err != nil || fresh[:TokenLen] != tokens[:TokenLen] || fresh[TokenLen:] == tokens[TokenLen:] {
		t.Fatal("only the deleted stamp gets a new token")
	}
}

// The stale-fill guard: a store with tokens read before an invalidation is
// refused, even when the stamp was re-created since.
func TestPutRefusesTokensOlderThanAnInvalidation(t *testing.T) {
	s, p := testStore(t)
	ctx := context.Background()
	entry, stamps := p+"e", []string{p + "s"}
	old, err := s.Register(ctx, nil, stamps, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = s.Invalidate(ctx, stamps)
	if stored, err := s.Put(ctx, entry, stamps, old, []byte("stale"), time.Minute); err != nil || stored {
		t.Fatalf("stored a fill older than the invalidation: %v %v", stored, err)
	}
	s.Register(ctx, nil, stamps, time.Minute) // someone re-creates the stamp
	if stored, _ := s.Put(ctx, entry, stamps, old, []byte("stale"), time.Minute); stored {
		t.Fatal("stored a fill against a re-created stamp")
	}
	if s.Client().Exists(ctx, entry).Val() != 0 {
		t.Fatal("entry exists")
	}
}

// A schemes set created afresh deletes its relation's table stamp: entries
// filled while an older set (now lost) was in force cannot survive it.
func TestRegisterNewSchemesSetDeletesTheTableStamp(t *testing.T) {
	s, p := testStore(t)
	ctx := context.Background()
	reg := []Registration{{Set: p + "schemes", TableStamp: p + "table", Schemes: []string{"", "id"}}}
	first, err := s.Register(ctx, reg, []string{p + "table"}, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Client().SMembers(ctx, p+"schemes").Val(); len(got) != 2 {
		t.Fatalf("schemes %q", got)
	}
	again, _ := s.Register(ctx, reg, []string{p + "table"}, time.Minute)
	if again != first {
		t.Fatal("an existing set must leave the table stamp alone")
	}
	s.Client().Del(ctx, p+"schemes") // evicted
	third, _ := s.Register(ctx, reg, []string{p + "table"}, time.Minute)
	if third == first {
		t.Fatal("a set created afresh must delete the table stamp")
	}
}

func TestLookupOfAForeignValueIsAMiss(t *testing.T) {
	s, p := testStore(t)
	ctx := context.Background()
	entry, stamps := p+"e", []string{p + "s"}
	s.Client().Set(ctx, entry, "x", time.Minute) // shorter than its header
	if payload, _, err := s.Lookup(ctx, entry, stamps); err != nil || payload != nil {
		t.Fatalf("%q %v", payload, err)
	}
}

func TestTokensAreDistinct(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 10000; i++ {
		tok := NewToken()
		if len(tok) != TokenLen || seen[tok] {
			t.Fatalf("token %q", tok)
		}
		seen[tok] = true
	}
}

// Lua's unpack fails past about 8,000 values: an invalidation of any size must
// still delete every stamp, in one call or several.
func TestInvalidateAnyNumberOfStamps(t *testing.T) {
	s, p := testStore(t)
	ctx := context.Background()
	for _, n := range []int{1, 7999, 8001, MaxStampsPerCall + 1, 20000} {
		stamps := make([]string, n)
		pipe := s.Client().Pipeline()
		for i := range stamps {
			stamps[i] = fmt.Sprintf("%sbig:%d:%d", p, n, i)
			pipe.Set(ctx, stamps[i], "x", time.Minute)
		}
		if _, err := pipe.Exec(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Invalidate(ctx, stamps); err != nil {
			t.Fatalf("%d stamps: %v", n, err)
		}
		left := 0
		for i := 0; i < n; i += 1000 {
			left += int(s.Client().Exists(ctx, stamps[i:min(i+1000, n)]...).Val())
		}
		if left != 0 {
			t.Fatalf("%d stamps: %d left", n, left)
		}
	}
	// The script alone, past unpack's limit in one call.
	stamps := make([]string, 9001)
	for i := range stamps {
		stamps[i] = fmt.Sprintf("%sone:%d", p, i)
	}
	if err := invalidateScript.Run(ctx, s.Client(), stamps, 0).Err(); err != nil {
		t.Fatalf("9,001 stamps in one call: %v", err)
	}
}

// The schema stamps' tokens are created once and read after; a foreign
// value under one's name is replaced. A write checks its catalog's tokens
// against them.
func TestSchemaTokensAndTheWriteCheck(t *testing.T) {
	s, p := testStore(t)
	ctx := context.Background()
	keys := []string{p + "schema1", p + "schema2"}
	first, err := s.SchemaTokens(ctx, keys, time.Minute)
	if err != nil || len(first) != 2*TokenLen {
		t.Fatalf("%q %v", first, err)
	}
	if again, err := s.SchemaTokens(ctx, keys, time.Minute); err != nil || again != first {
		t.Fatalf("the tokens changed without a schema change: %q %q %v", first, again, err)
	}
	checks := []Check{{keys[0], first[:TokenLen]}, {keys[1], first[TokenLen:]}}
	current, _, err := s.InvalidateChecked(ctx, checks, []string{p + "a"})
	if err != nil || !current {
		t.Fatalf("a current catalog was taken as old: %v %v", current, err)
	}
	s.Client().Del(ctx, keys[1])
	current, _, err = s.InvalidateChecked(ctx, checks, []string{p + "a"})
	if err != nil || current {
		t.Fatalf("a catalog older than a schema change was taken as current: %v %v", current, err)
	}
	s.Client().Del(ctx, keys[0])
	s.Client().RPush(ctx, keys[0], "foreign")
	tok, err := s.SchemaTokens(ctx, keys, time.Minute)
	if err != nil || len(tok) != 2*TokenLen || tok[:TokenLen] == first[:TokenLen] {
		t.Fatalf("a foreign value was not replaced: %q %v", tok, err)
	}
	s.Client().Del(ctx, keys...)
}
