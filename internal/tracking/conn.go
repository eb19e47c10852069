package tracking

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"
)

// Options say how to reach a server and what to track.
type Options struct {
	// Dial opens a connection to the server (TLS included, if any).
	Dial func(ctx context.Context) (net.Conn, error)
	// Username and Password authenticate (HELLO … AUTH); an empty Password
	// sends none.
	Username, Password string
	// Prefixes are the key prefixes whose changes are told.
	Prefixes []string
	// Invalidated is told of each invalidation message, on the
	// connection's reader goroutine, in the order Redis sent them: the
	// keys changed, or all when Redis dropped every key (FLUSHALL). It
	// returns before the reply that follows the message is handed out.
	Invalidated func(keys []string, all bool)
}

// Conn is a tracking connection. It is lost for good at the first error
// (Done is closed); a new one must be dialled, and every change made in
// between is unknown to it.
type Conn struct {
	nc          net.Conn
	invalidated func(keys []string, all bool)
	mu          sync.Mutex       // serialises writes with their places in waiting
	waiting     chan chan result // the calls waiting for replies, in the order sent
	done        chan struct{}
	once        sync.Once
	err         error // why it was lost; set before done is closed
}

type result struct {
	v   any
	err error
}

// maxWaiting bounds the calls in flight on one connection.
const maxWaiting = 64

// ErrLost is returned by calls on a connection that was lost.
var ErrLost = errors.New("tracking: connection lost")

// Dial connects, says HELLO in RESP3 and turns broadcast tracking on for
// opts.Prefixes. ctx bounds the whole handshake.
func Dial(ctx context.Context, opts Options) (*Conn, error) {
	nc, err := opts.Dial(ctx)
	if err != nil {
		return nil, err
	}
	c := &Conn{nc: nc, invalidated: opts.Invalidated, waiting: make(chan chan result, maxWaiting), done: make(chan struct{})}
	go c.read()
	hello := []string{"HELLO", "3"}
	if opts.Password != "" {
		user := opts.Username
		if user == "" {
			user = "default"
		}
		hello = append(hello, "AUTH", user, opts.Password)
	}
	hello = append(hello, "SETNAME", "cacheops-tracking")
	track := []string{"CLIENT", "TRACKING", "ON", "BCAST"}
	for _, p := range opts.Prefixes {
		track = append(track, "PREFIX", p)
	}
	for _, cmd := range [][]string{hello, track} {
		if _, err := c.Do(ctx, cmd...); err != nil {
			c.Close()
			return nil, fmt.Errorf("tracking: %s: %w", cmd[0], err)
		}
	}
	return c, nil
}

// Do sends a command and waits for its reply. A context that ends first
// only stops the wait: the reply, when it comes, goes to the call's own
// place in the queue and is dropped (a slow server is not a lost one).
func (c *Conn) Do(ctx context.Context, args ...string) (any, error) {
	slot := make(chan result, 1)
	c.mu.Lock()
	select {
	case <-c.done:
		c.mu.Unlock()
		return nil, c.lostErr()
	default:
	}
	select {
	case c.waiting <- slot:
	default:
		// maxWaiting calls unanswered: the server is not answering.
		c.mu.Unlock()
		c.lose(errors.New("tracking: too many calls unanswered"))
		return nil, c.lostErr()
	}
	if d, ok := ctx.Deadline(); ok {
		_ = c.nc.SetWriteDeadline(d)
	} else {
		_ = c.nc.SetWriteDeadline(time.Time{})
	}
	_, err := c.nc.Write(appendCommand(nil, args...))
	c.mu.Unlock()
	if err != nil {
		c.lose(err)
		return nil, c.lostErr()
	}
	select {
	case r := <-slot:
		return r.v, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.done:
		select {
		case r := <-slot: // answered just before the loss
			return r.v, r.err
		default:
			return nil, c.lostErr()
		}
	}
}

// Ping sends a PING and waits for its reply: every invalidation message
// Redis wrote before it has then been handed to Invalidated.
func (c *Conn) Ping(ctx context.Context) error {
	v, err := c.Do(ctx, "PING")
	if err != nil {
		return err
	}
	if v != "PONG" {
		c.lose(fmt.Errorf("%w: PING answered %v", errProtocol, v))
		return c.lostErr()
	}
	return nil
}

// Done is closed when the connection is lost.
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is why the connection was lost (nil while it is not).
func (c *Conn) Err() error {
	select {
	case <-c.done:
		return c.err
	default:
		return nil
	}
}

// Close loses the connection.
func (c *Conn) Close() { c.lose(ErrLost) }

func (c *Conn) lose(err error) {
	c.once.Do(func() {
		c.err = err
		close(c.done)
		_ = c.nc.Close()
	})
}

func (c *Conn) lostErr() error { return fmt.Errorf("%w: %w", ErrLost, c.err) }

// read hands each reply to the call that waits for it and each
// invalidation message to Invalidated, in the order they arrive.
func (c *Conn) read() {
	r := bufio.NewReaderSize(c.nc, 32<<10)
	for {
		v, err := readValue(r)
		var re replyError
		if err != nil && !errors.As(err, &re) {
			c.lose(err)
			return
		}
		if p, ok := v.(push); ok {
			c.handle(p)
			continue
		}
		select {
		case slot := <-c.waiting:
			slot <- result{v, err}
		default:
			c.lose(fmt.Errorf("%w: a reply nobody waits for: %v", errProtocol, v))
			return
		}
	}
}

// handle passes an invalidation message on; other messages are not ours.
func (c *Conn) handle(p push) {
	if len(p) != 2 || p[0] != "invalidate" {
		return
	}
	ks, ok := p[1].([]any)
	if !ok { // null: every key; anything else: unknown, so every key too
		c.invalidated(nil, true)
		return
	}
	keys := make([]string, len(ks))
	for i, k := range ks {
		if keys[i], ok = k.(string); !ok {
			c.invalidated(nil, true)
			return
		}
	}
	c.invalidated(keys, false)
}
