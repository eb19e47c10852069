package direct

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// server is the test Redis (its database 9 by default), a client of it
// and pool options that count their dials.
func server(t *testing.T) (*redis.Client, Options, *atomic.Int64) {
	url := os.Getenv("CACHEOPS_TEST_REDIS")
	if url == "" {
		url = "redis://127.0.0.1:6379/9"
	}
	o, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(o)
	t.Cleanup(func() { rdb.Close() })
	if err := rdb.Ping(context.Background()).Err(); err != nil {
		t.Skipf("no Redis: %v", err)
	}
	o = rdb.Options()
	var dials atomic.Int64
	return rdb, Options{
		Dial: func(ctx context.Context) (net.Conn, error) {
			dials.Add(1)
			return o.Dialer(ctx, o.Network, o.Addr)
		},
		Credentials: func(context.Context) (string, string, error) { return o.Username, o.Password, nil },
		DB:          o.DB,
	}, &dials
}

func ctxFor(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// keysFor are keys named after the test, removed when it ends.
func keysFor(t *testing.T, rdb *redis.Client, n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("cacheops-direct-test:%s:%d", t.Name(), i)
	}
	t.Cleanup(func() { rdb.Del(context.Background(), keys...) })
	return keys
}

func mget(t *testing.T, p *Pool, keys []string) []Value {
	t.Helper()
	out := make([]Value, len(keys))
	if err := p.MGet(ctxFor(t), keys, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// What MGET returns is what Redis holds, byte for byte: empty strings,
// binary values with CRLFs in them, values larger than the reader's
// buffer, missing keys. The test's keys live in the URL's database, so a
// pool that did not SELECT it would find none. Values already returned are
// not touched by later reads.
func TestMGetReadsWhatRedisHolds(t *testing.T) {
	rdb, opts, _ := server(t)
	p := New(opts)
	defer p.Close()
	keys := keysFor(t, rdb, 5)
	big := strings.Repeat("0123456789abcdef", 10_000) // 160 KB
	want := []*string{ptr(""), ptr("a\r\nb\x00\xff$-1\r\n"), ptr(big), nil, ptr("tok")}
	for i, w := range want {
		if w != nil {
			if err := rdb.Set(ctxFor(t), keys[i], *w, time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	first := mget(t, p, keys)
	for range 3 {
		for _, got := range [][]Value{mget(t, p, keys), first} {
			for i, w := range want {
				switch {
				case w == nil && !got[i].Nil:
					t.Errorf("key %d: %q, want none", i, got[i].S)
				case w != nil && (got[i].Nil || got[i].S != *w):
					t.Errorf("key %d: %d bytes (nil %v), want %d", i, len(got[i].S), got[i].Nil, len(*w))
				}
			}
		}
	}
}

func ptr(s string) *string { return &s }

// A connection is kept between reads, an error reply keeps it too (it is
// a redis.Error, as go-redis' are), and a closed pool dials no more.
func TestConnectionsAreReused(t *testing.T) {
	rdb, opts, dials := server(t)
	p := New(opts)
	keys := keysFor(t, rdb, 2)
	for range 5 {
		mget(t, p, keys)
	}
	err := p.MGet(ctxFor(t), nil, nil) // MGET without a key: an error reply
	var re redis.Error
	if !errors.As(err, &re) || !strings.Contains(err.Error(), "wrong number of arguments") {
		t.Fatalf("MGET without keys: %v, want Redis' error reply", err)
	}
	mget(t, p, keys)
	if n := dials.Load(); n != 1 {
		t.Fatalf("%d dials for sequential reads, want 1", n)
	}
	p.Close()
	if err := p.MGet(ctxFor(t), keys, make([]Value, 2)); !errors.Is(err, ErrClosed) {
		t.Fatalf("a closed pool: %v", err)
	}
}

// Pooled connections the server closed (CLIENT KILL, an idle timeout, a
// restart) are found when used, and the read is made again on a new one,
// not on another of the closed ones: the caller sees no error.
func TestConnectionsTheServerClosedAreDialledAgain(t *testing.T) {
	rdb, opts, dials := server(t)
	opts.ClientName = fmt.Sprintf("cacheops-direct-test-%d", time.Now().UnixNano())
	p := New(opts)
	defer p.Close()
	keys := keysFor(t, rdb, 1)
	rdb.Set(ctxFor(t), keys[0], "v", time.Minute)
	// Two connections idle, both killed.
	c1, _, err := p.get(ctxFor(t), false)
	if err != nil {
		t.Fatal(err)
	}
	c2, _, err := p.get(ctxFor(t), false)
	if err != nil {
		t.Fatal(err)
	}
	p.put(c1)
	p.put(c2)
	ids := clientIDs(t, rdb, opts.ClientName)
	if len(ids) != 2 {
		t.Fatalf("%d connections named %s, want 2", len(ids), opts.ClientName)
	}
	for _, id := range ids {
		if n, err := rdb.ClientKillByFilter(ctxFor(t), "ID", id).Result(); err != nil || n != 1 {
			t.Fatalf("CLIENT KILL: %d, %v", n, err)
		}
	}
	if got := mget(t, p, keys); got[0].S != "v" {
		t.Fatalf("after the kill: %+v", got)
	}
	if n := dials.Load(); n != 3 {
		t.Fatalf("%d dials, want 3", n)
	}
}

// clientIDs are the ids of the connections named name (CLIENT SETNAME
// worked).
func clientIDs(t *testing.T, rdb *redis.Client, name string) []string {
	list, err := rdb.ClientList(ctxFor(t)).Result()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, line := range strings.Split(list, "\n") {
		if strings.Contains(line, " name="+name+" ") {
			for _, f := range strings.Fields(line) {
				if id, ok := strings.CutPrefix(f, "id="); ok {
					ids = append(ids, id)
				}
			}
		}
	}
	return ids
}

// A user's credentials are sent (AUTH user password); wrong ones fail the
// dial with Redis' own answer.
func TestCredentials(t *testing.T) {
	rdb, opts, _ := server(t)
	user := fmt.Sprintf("cacheops-direct-test-%d", time.Now().UnixNano())
	if err := rdb.Do(ctxFor(t), "ACL", "SETUSER", user, "on", ">secret", "~cacheops-direct-test:*", "+mget", "+select").Err(); err != nil {
		t.Skipf("ACL: %v", err)
	}
	t.Cleanup(func() { rdb.Do(context.Background(), "ACL", "DELUSER", user) })
	keys := keysFor(t, rdb, 1)
	rdb.Set(ctxFor(t), keys[0], "v", time.Minute)
	for _, c := range []struct {
		pass string
		ok   bool
	}{{"secret", true}, {"wrong", false}} {
		opts.Credentials = func(context.Context) (string, string, error) { return user, c.pass, nil }
		p := New(opts)
		out := make([]Value, 1)
		err := p.MGet(ctxFor(t), keys, out)
		var re redis.Error
		switch {
		case c.ok && (err != nil || out[0].S != "v"):
			t.Errorf("with the password: %+v, %v", out, err)
		case !c.ok && (!errors.As(err, &re) || !strings.Contains(err.Error(), "WRONGPASS")):
			t.Errorf("with a wrong password: %v, want WRONGPASS", err)
		}
		p.Close()
	}
}

// fake is a server that answers every request with reply (and then
// closes, if close is set).
func fake(t *testing.T, reply string, close bool) Options {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				for {
					if _, err := c.Read(buf); err != nil {
						return
					}
					if reply != "" {
						c.Write([]byte(reply))
					}
					if close {
						return
					}
				}
			}()
		}
	}()
	var d net.Dialer
	return Options{Dial: func(ctx context.Context) (net.Conn, error) { return d.DialContext(ctx, "tcp", ln.Addr().String()) }}
}

// Replies that are not an MGET's fail the call, never panic, and the
// connection is dropped; a server that does not answer fails it at the
// context's deadline, once (no second try).
func TestBadRepliesFailTheCall(t *testing.T) {
	for _, c := range []struct {
		name, reply string
		close       bool
	}{
		{"status", "+OK\r\n", false},
		{"fewer values", "*1\r\n$1\r\na\r\n", false},
		{"an integer", "*2\r\n:1\r\n$1\r\na\r\n", false},
		{"a huge length", "*2\r\n$99999999999\r\n", false},
		{"a bad length", "*2\r\n$-7\r\n", false},
		{"no CRLF", "*2\r\n$1\r\nab\r\n$1\r\na\r\n", false},
		{"a bare LF", "*2\n", false},
		{"truncated", "*2\r\n$10\r\nabc", true},
		{"closed", "", true},
		{"silent", "", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			opts := fake(t, c.reply, c.close)
			var dials atomic.Int64
			dial := opts.Dial
			opts.Dial = func(ctx context.Context) (net.Conn, error) { dials.Add(1); return dial(ctx) }
			p := New(opts)
			defer p.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
			defer cancel()
			start := time.Now()
			err := p.MGet(ctx, []string{"a", "b"}, make([]Value, 2))
			if err == nil {
				t.Fatal("no error")
			}
			if time.Since(start) > time.Second {
				t.Fatalf("took %v", time.Since(start))
			}
			if n := len(p.idle); n != 0 {
				t.Fatalf("%d connections kept after %v", n, err)
			}
			if n := dials.Load(); n != 1 {
				t.Fatalf("%d dials after %v", n, err)
			}
		})
	}
}
