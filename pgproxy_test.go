package cacheops_test

import (
	"bytes"
	"context"
	"database/sql"
	"github.com/jackc/pgx/v5/pgxpool"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/cacheops/cacheops"
)

// pgProxy sits between cacheops and PostgreSQL and loses replies on demand,
// so that tests can make a write's outcome unknown to the client while
// PostgreSQL commits it.
type pgProxy struct {
	ln     net.Listener
	target string

	mu sync.Mutex
	// trickle: after a client message containing trigger, only budget more
	// bytes of the server's reply reach the client; the rest is drained (or,
	// with cut, the client's connection is closed there).
	trigger []byte
	budget  int
	cut     bool
	// paused: with a trigger, the rest of the reply is held (not drained)
	// until the channel is closed.
	paused chan struct{}
	// hold: the next simple-protocol COMMIT is not forwarded; the client's
	// connection is closed instead, and the COMMIT is sent when released.
	hold *heldCommit
}

type heldCommit struct {
	ch chan struct{}
}

func (h *heldCommit) release() { close(h.ch) }

var commitMessage = []byte("Q\x00\x00\x00\x0bcommit\x00")

func newPgProxy(t *testing.T) *pgProxy {
	u, err := url.Parse(testDSN())
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &pgProxy{ln: ln, target: u.Host}
	t.Cleanup(func() { ln.Close() })
	go acceptAll(ln, p.serve)
	return p
}

// acceptAll serves every connection ln accepts until it is closed.
func acceptAll(ln net.Listener, serve func(net.Conn)) {
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		go serve(c)
	}
}

// open opens a caching database through the proxy.
func (p *pgProxy) open(t *testing.T, cache *cacheops.Cache, schema string) *sql.DB {
	u, _ := url.Parse(withSearchPath(testDSN(), schema))
	u.Host = p.ln.Addr().String()
	db, err := cache.OpenDB(u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	return db
}

// openPool opens a cached pgx pool of one connection through the proxy.
func (p *pgProxy) openPool(t *testing.T, cache *cacheops.Cache, schema string) *cacheops.Pool {
	u, _ := url.Parse(withSearchPath(testDSN(), schema))
	u.Host = p.ln.Addr().String()
	cfg, err := pgxpool.ParseConfig(u.String())
	if err != nil {
		t.Fatal(err)
	}
	cfg.MaxConns = 1
	raw, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(raw.Close)
	return cache.WrapPool(raw)
}

func (p *pgProxy) trickleAfter(trigger string, budget int, cut bool) {
	p.mu.Lock()
	p.trigger, p.budget, p.cut = []byte(trigger), budget, cut
	p.mu.Unlock()
}

// pauseAfter lets only budget bytes of the reply to a message containing
// trigger through, and the rest once release is called.
func (p *pgProxy) pauseAfter(trigger string, budget int) (release func()) {
	ch := make(chan struct{})
	p.mu.Lock()
	p.trigger, p.budget, p.cut, p.paused = []byte(trigger), budget, false, ch
	p.mu.Unlock()
	var once sync.Once
	return func() { once.Do(func() { close(ch) }) }
}

func (p *pgProxy) holdCommit() *heldCommit {
	h := &heldCommit{ch: make(chan struct{})}
	p.mu.Lock()
	p.hold = h
	p.mu.Unlock()
	return h
}

func (p *pgProxy) serve(client net.Conn) {
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	var mu sync.Mutex
	limit := -1 // bytes of reply still allowed through; -1: no limit
	cut := false
	var paused chan struct{}
	go func() { // server → client
		buf := make([]byte, 32<<10)
		for {
			n, err := server.Read(buf)
			if n > 0 {
				mu.Lock()
				out, held := buf[:n], []byte(nil)
				if limit >= 0 {
					out = out[:min(n, limit)]
					limit -= len(out)
					if paused != nil {
						held = append(held, buf[len(out):n]...)
					}
				}
				closeNow := cut && limit == 0
				var wait chan struct{}
				if paused != nil && limit == 0 {
					wait, limit, paused = paused, -1, nil
				}
				mu.Unlock()
				if len(out) > 0 {
					client.Write(out)
				}
				if wait != nil {
					<-wait
					client.Write(held)
				}
				if closeNow {
					client.Close() // the connection is lost mid-reply
				}
			}
			if err != nil {
				client.Close()
				server.Close()
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := client.Read(buf)
		if err != nil {
			// Let PostgreSQL finish what it was sent, as it does when a
			// client vanishes after its last message; then hang up.
			server.SetReadDeadline(time.Now().Add(10 * time.Second))
			return
		}
		chunk := append([]byte(nil), buf[:n]...)
		p.mu.Lock()
		if p.trigger != nil && bytes.Contains(chunk, p.trigger) {
			mu.Lock()
			limit, cut, paused = p.budget, p.cut, p.paused
			mu.Unlock()
			p.trigger, p.paused = nil, nil
		}
		h := p.hold
		if h != nil && bytes.Contains(chunk, commitMessage) {
			p.hold = nil
		} else {
			h = nil
		}
		p.mu.Unlock()
		if h != nil {
			mu.Lock()
			limit = 0 // the reply is lost
			mu.Unlock()
			client.Close()
			<-h.ch
			server.Write(chunk)
			return // the server goroutine drains the reply until the server closes
		}
		server.Write(chunk)
	}
}
