package driver

import (
	"context"
	"time"
)

// Control steers the cache for the reads made with a context.
type Control struct {
	// NoCache: reads neither use nor fill the cache (writes still
	// invalidate).
	NoCache bool
	// Refresh: reads run the query and store the fresh result, whatever
	// the cache holds.
	Refresh bool
	// TTL of the entries reads store; zero: the tables' or the cache's.
	TTL time.Duration
}

type controlKey struct{}

// WithControl returns ctx with set applied to the Control it carries, so
// that controls given one after the other add up.
func WithControl(ctx context.Context, set func(*Control)) context.Context {
	c, _ := ctx.Value(controlKey{}).(Control)
	set(&c)
	return context.WithValue(ctx, controlKey{}, c)
}

// readControl is what a cacheable read does with the cache.
type readControl struct {
	skip    bool          // pass through: no lookup, no store
	refresh bool          // no lookup: run, then store
	ttl     time.Duration // of the entry it stores
}

// readControl combines the call's context, the statement's hint comments,
// the rules of the tables it reads and the cache's TTL. Any of them saying
// "not cached" wins; a TTL given with the call (context, else hint) wins
// over the tables', which is the smallest of theirs.
func (c *Conn) readControl(ctx context.Context, p *plan) readControl {
	ctl, _ := ctx.Value(controlKey{}).(Control)
	h := &p.Hints
	out := readControl{
		skip:    ctl.NoCache || h.NoCache || p.tablesOff,
		refresh: ctl.Refresh || h.Refresh,
		ttl:     c.cfg.TTL,
	}
	switch {
	case ctl.TTL > 0:
		out.ttl = ctl.TTL
	case h.TTL > 0:
		out.ttl = h.TTL
	case p.tablesTTL > 0:
		out.ttl = p.tablesTTL
	}
	return out
}

// keyText is the text an entry is keyed by: the statement's without its
// hint comments.
func (p *plan) keyText(text string) string {
	if p.Hints.KeyText != "" {
		return p.Hints.KeyText
	}
	return text
}
