package lua

import (
	"context"
	"fmt"
	"os"
	"slices"
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

// LookupOrRegister answers exactly what Lookup answers, and on a miss
// registers and reads the stamps as Register does, in one call: a valid
// entry registers nothing; an entry missing, too short, of another type, or
// with one stamp changed or lost is a miss that registers.
func TestLookupOrRegisterIsLookupThenRegister(t *testing.T) {
	s, p := testStore(t)
	ctx := context.Background()
	rdb := s.Client()
	entry, set, table := p+"e", p+"schemes", p+"table"
	stamps := []string{table, p + "c"}
	reg := []Registration{{Set: set, TableStamp: table, Schemes: []string{"id"}}}
	t.Cleanup(func() { rdb.Del(ctx, entry, set, table, p+"c") })
	lookup := func() ([]byte, string) {
		t.Helper()
		payload, tokens, err := s.LookupOrRegister(ctx, entry, reg, stamps, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if want, wantTokens, _ := s.Lookup(ctx, entry, stamps); payload != nil && (string(want) != string(payload) || wantTokens != tokens) {
			t.Fatalf("a hit differs from Lookup's: %q %q, Lookup %q %q", payload, tokens, want, wantTokens)
		}
		return payload, tokens
	}
	payload, tokens := lookup()
	if payload != nil || len(tokens) != 2*TokenLen || rdb.SCard(ctx, set).Val() != 1 {
		t.Fatalf("a first miss: %q %q, set of %d", payload, tokens, rdb.SCard(ctx, set).Val())
	}
	if ok, err := s.Put(ctx, entry, stamps, tokens, []byte("rows"), time.Minute); !ok || err != nil {
		t.Fatal(ok, err)
	}
	rdb.Del(ctx, set) // a hit must not register
	if payload, got := lookup(); string(payload) != "rows" || got != tokens || rdb.Exists(ctx, set).Val() != 0 {
		t.Fatalf("a valid entry: %q %q", payload, got)
	}
	rdb.Del(ctx, p+"c") // invalidated: a miss that registers and makes the stamp again
	payload, again := lookup()
	if payload != nil || again[:TokenLen] == tokens[:TokenLen] || again[TokenLen:] == tokens[TokenLen:] || rdb.SCard(ctx, set).Val() != 1 {
		t.Fatalf("an invalidated entry: %q %q (was %q)", payload, again, tokens)
	}
	for _, v := range []any{"short", 42} {
		rdb.Set(ctx, entry, v, time.Minute)
		if payload, _ := lookup(); payload != nil {
			t.Fatalf("%v was taken as an entry: %q", v, payload)
		}
	}
	rdb.Del(ctx, entry)
	rdb.RPush(ctx, entry, "foreign")
	if payload, _ := lookup(); payload != nil {
		t.Fatalf("a list was taken as an entry: %q", payload)
	}
	// A stamp holding another type, or a string of another length, is
	// replaced by a token.
	for _, foreign := range []func(){
		func() { rdb.Del(ctx, p+"c"); rdb.RPush(ctx, p+"c", "x") },
		func() { rdb.Set(ctx, p+"c", "short", time.Minute) },
	} {
		foreign()
		_, tokens := lookup()
		if got := rdb.Get(ctx, p+"c").Val(); got != tokens[TokenLen:] {
			t.Fatalf("a foreign stamp was kept: %q, tokens %q", got, tokens)
		}
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
	checks := []Check{SchemaCheck(keys[0], first[:TokenLen]), SchemaCheck(keys[1], first[TokenLen:])}
	failed, _, err := s.InvalidateChecked(ctx, checks, []string{p + "a"})
	if err != nil || len(failed) != 0 {
		t.Fatalf("a current catalog was taken as old: %v %v", failed, err)
	}
	s.Client().Del(ctx, keys[1])
	failed, _, err = s.InvalidateChecked(ctx, checks, []string{p + "a"})
	if err != nil || len(failed) != 1 || failed[0].Check != 1 {
		t.Fatalf("a catalog older than a schema change was taken as current: %v %v", failed, err)
	}
	s.Client().Del(ctx, keys[0])
	s.Client().RPush(ctx, keys[0], "foreign")
	tok, err := s.SchemaTokens(ctx, keys, time.Minute)
	if err != nil || len(tok) != 2*TokenLen || tok[:TokenLen] == first[:TokenLen] {
		t.Fatalf("a foreign value was not replaced: %q %v", tok, err)
	}
	s.Client().Del(ctx, keys...)
}

// A writer's copy of a schemes set is current while the set keeps its marker
// and its size: a scheme added, the set lost, lost and made again (by a
// reader of this version or one that knows no markers), or a foreign value
// under its name each fail the check. Reading marks a set that has no marker.
// A small set is checked by reading it whole, a big one by its size and
// marker (then read in one more round trip): both are run.
func TestSchemesSetCheck(t *testing.T) {
	for _, size := range []string{"small", "big"} {
		t.Run(size, func(t *testing.T) { testSchemesSetCheck(t, size == "big") })
	}
}

func testSchemesSetCheck(t *testing.T, big bool) {
	s, p := testStore(t)
	ctx := context.Background()
	rdb := s.Client()
	set, table := p+"schemes", p+"table"
	t.Cleanup(func() { rdb.Del(ctx, set, table, p+"v") })
	var padding []string // schemes that make the set big
	for i := 0; big && i <= maxReadMembers; i++ {
		padding = append(padding, fmt.Sprint("pad", i))
	}
	register := func(schemes ...string) {
		t.Helper()
		schemes = append(schemes, padding...)
		reg := []Registration{{Set: set, TableStamp: table, Schemes: schemes}}
		if _, err := s.Register(ctx, reg, []string{table}, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	read := func() SchemesSet {
		t.Helper()
		got, err := s.Schemes(ctx, []string{set})
		if err != nil || len(got) != 1 {
			t.Fatalf("%v %v", got, err)
		}
		return got[0]
	}
	current := func(cp SchemesSet) bool {
		t.Helper()
		failed, _, err := s.InvalidateChecked(ctx, []Check{SetCheck(set, cp)}, []string{p + "v"})
		if err != nil {
			t.Fatal(err)
		}
		if len(failed) == 1 {
			// The failed check brings the set as it is: it is current.
			if now := read(); failed[0].Set.Marker != now.Marker || failed[0].Set.Size != now.Size {
				t.Fatalf("the failed check brought %+v, the set is %+v", failed[0].Set, now)
			}
		}
		return len(failed) == 0
	}
	none := read()
	if none.Size != 0 || none.Schemes != nil || !current(none) {
		t.Fatalf("a missing set: %+v", none)
	}
	register("", "id")
	if current(none) {
		t.Fatal("a set made after the copy of a missing one was taken as current")
	}
	cp := read()
	want := append([]string{"", "id"}, padding...)
	slices.Sort(want)
	if slices.Sort(cp.Schemes); !slices.Equal(cp.Schemes, want) || cp.Size != len(want)+1 || cp.Marker == "" {
		t.Fatalf("read %+v", cp)
	}
	if again := read(); again.Marker != cp.Marker || again.Size != cp.Size {
		t.Fatalf("a marked set was marked again: %+v %+v", cp, again)
	}
	if !current(cp) {
		t.Fatal("an unchanged set was taken as changed")
	}
	register("id")
	if !current(cp) {
		t.Fatal("registering a known scheme changed the set")
	}
	register("email")
	if current(cp) {
		t.Fatal("a scheme added went unseen")
	}
	cp = read()
	rdb.Del(ctx, set)
	if current(cp) {
		t.Fatal("a lost set went unseen")
	}
	// Made again with as many members, by a process that knows no markers.
	rdb.SAdd(ctx, set, "", "id", "email", "name")
	for _, pad := range padding {
		rdb.SAdd(ctx, set, pad)
	}
	if current(cp) {
		t.Fatal("a set made again with the same size went unseen")
	}
	rdb.Del(ctx, set)
	rdb.Set(ctx, set, "foreign", time.Minute)
	if got, err := s.Schemes(ctx, []string{set}); err != nil || got[0].Size != -1 || got[0].Schemes != nil {
		t.Fatalf("a foreign value was read as a schemes set: %+v %v", got, err)
	}
	if current(cp) {
		t.Fatal("a foreign value went unseen")
	}
}

// An entry that holds its stamps' tokens and nothing more is found, and
// corrupt (the caller decodes and deletes it), not a miss; a valid one's
// payload is the reply's bytes after the tokens.
func TestValidEntryPayload(t *testing.T) {
	tok := NewToken()
	for _, c := range []struct {
		entry string
		want  []byte
	}{
		{tok, []byte{}},
		{tok + "payload", []byte("payload")},
		{tok[:5], nil},
	} {
		got, tokens := validEntry(values([]any{c.entry, tok}))
		if (got == nil) != (c.want == nil) || string(got) != string(c.want) {
			t.Errorf("%q: payload %q (nil %v), want %q", c.entry, got, got == nil, c.want)
		}
		if got != nil && tokens != tok {
			t.Errorf("%q: tokens %q", c.entry, tokens)
		}
	}
}
