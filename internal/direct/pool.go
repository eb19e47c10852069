package direct

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// Options say how to reach the server.
type Options struct {
	// Dial opens a connection to the server (TLS included, if any).
	Dial func(ctx context.Context) (net.Conn, error)
	// Credentials returns the user and password to AUTH with (none when
	// the password is empty); nil: none.
	Credentials func(ctx context.Context) (user, pass string, err error)
	// DB is SELECTed when it is not 0; ClientName is set when not empty.
	DB         int
	ClientName string
	// MaxIdle bounds the connections kept between reads (default 4).
	MaxIdle int
}

// Pool is a pool of connections to one server.
type Pool struct {
	opts   Options
	mu     sync.Mutex
	idle   []*conn
	closed bool
}

// conn is one connection and its buffers.
type conn struct {
	nc   net.Conn
	br   *bufio.Reader
	wbuf []byte
}

// ErrClosed is returned by a closed Pool.
var ErrClosed = errors.New("direct: pool closed")

// New returns a pool; it dials when first used.
func New(opts Options) *Pool {
	if opts.MaxIdle <= 0 {
		opts.MaxIdle = 4
	}
	return &Pool{opts: opts}
}

// Value is one key's value: Nil when the key holds no string.
type Value struct {
	S   string
	Nil bool
}

// MGet reads keys into out (len(out) == len(keys)) in one round trip. The
// values are slices of one new buffer: the caller owns them. ctx's deadline
// bounds the call (its cancellation, as with go-redis, does not). An error
// reply is a ReplyError, and the connection is kept.
func (p *Pool) MGet(ctx context.Context, keys []string, out []Value) error {
	for retried := false; ; retried = true {
		c, pooled, err := p.get(ctx, retried)
		if err != nil {
			return err
		}
		err = c.mget(ctx, keys, out)
		var reply ReplyError
		if err == nil || errors.As(err, &reply) {
			p.put(c)
			return err
		}
		_ = c.nc.Close()
		if !pooled || retried || !closedByServer(err) {
			return err
		}
	}
}

// closedByServer reports whether err is what a connection the server
// closed while it was idle gives when used: nothing was read, so the read
// may be made again.
func closedByServer(err error) bool {
	return errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
}

// get returns an idle connection (pooled) or, with fresh or none idle, a
// new one (a retry after a connection the server closed: the others idle
// may be closed too, by a restart).
func (p *Pool) get(ctx context.Context, fresh bool) (c *conn, pooled bool, err error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil, false, ErrClosed
	}
	if n := len(p.idle); n > 0 && !fresh {
		c = p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		return c, true, nil
	}
	p.mu.Unlock()
	c, err = p.dial(ctx)
	return c, false, err
}

func (p *Pool) put(c *conn) {
	p.mu.Lock()
	if !p.closed && len(p.idle) < p.opts.MaxIdle {
		p.idle = append(p.idle, c)
		c = nil
	}
	p.mu.Unlock()
	if c != nil {
		_ = c.nc.Close()
	}
}

// Close closes the idle connections; connections in use are closed when
// they are put back.
func (p *Pool) Close() error {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.closed = nil, true
	p.mu.Unlock()
	for _, c := range idle {
		_ = c.nc.Close()
	}
	return nil
}

// dial opens a connection and sets it up (AUTH, SELECT, CLIENT SETNAME),
// the set-up commands sent together.
func (p *Pool) dial(ctx context.Context) (*conn, error) {
	var setup [][]string
	if p.opts.Credentials != nil {
		user, pass, err := p.opts.Credentials(ctx)
		if err != nil {
			return nil, err
		}
		switch {
		case pass == "":
		case user == "":
			setup = append(setup, []string{"AUTH", pass})
		default:
			setup = append(setup, []string{"AUTH", user, pass})
		}
	}
	if p.opts.DB != 0 {
		setup = append(setup, []string{"SELECT", strconv.Itoa(p.opts.DB)})
	}
	if p.opts.ClientName != "" {
		setup = append(setup, []string{"CLIENT", "SETNAME", p.opts.ClientName})
	}
	nc, err := p.opts.Dial(ctx)
	if err != nil {
		return nil, err
	}
	c := &conn{nc: nc, br: bufio.NewReaderSize(nc, 16<<10)}
	if len(setup) > 0 {
		if err := c.setup(ctx, setup); err != nil {
			_ = nc.Close()
			return nil, err
		}
	}
	return c, nil
}

func (c *conn) setup(ctx context.Context, cmds [][]string) error {
	c.deadline(ctx)
	for _, cmd := range cmds {
		c.wbuf = appendCommand(c.wbuf, cmd)
	}
	if err := c.flush(); err != nil {
		return err
	}
	for range cmds {
		if err := c.readStatus(); err != nil {
			return err
		}
	}
	return nil
}

func (c *conn) deadline(ctx context.Context) {
	d, _ := ctx.Deadline() // none: the zero time, no deadline
	_ = c.nc.SetDeadline(d)
}

func (c *conn) flush() error {
	_, err := c.nc.Write(c.wbuf)
	c.wbuf = c.wbuf[:0]
	return err
}

// mget writes one MGET and reads its reply.
func (c *conn) mget(ctx context.Context, keys []string, out []Value) error {
	if len(out) != len(keys) {
		return errors.New("direct: MGet: len(out) != len(keys)")
	}
	c.deadline(ctx)
	c.wbuf = appendHeader(c.wbuf, '*', 1+len(keys))
	c.wbuf = appendBulk(c.wbuf, "MGET")
	for _, k := range keys {
		c.wbuf = appendBulk(c.wbuf, k)
	}
	if err := c.flush(); err != nil {
		return err
	}
	return readStrings(c.br, out)
}

// readStatus reads a simple reply ("+OK"); an error reply is returned.
func (c *conn) readStatus() error {
	kind, line, err := readLine(c.br)
	switch {
	case err != nil:
		return err
	case kind == '+':
		return nil
	case kind == '-':
		return ReplyError(strings.Clone(line))
	}
	return protocolError("a status", kind)
}
