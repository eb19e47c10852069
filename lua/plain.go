package lua

import (
	"context"
	"errors"
	"strings"

	"github.com/redis/go-redis/v9"
)

// plainCall is an invalidation sent as plain commands rather than the
// script: GET of each schema stamp, SMEMBERS of each schemes set (SCARD and
// SISMEMBER of its marker when the writer's copy has more than
// maxReadMembers members), then DEL of the stamps. A
// script costs Redis several times what these commands do (tens of
// microseconds to set up Lua against about one per command), and it is the
// write's one round trip after its commit, so the write pays it all.
//
// Nothing here needs the script's atomicity. The deletion does not depend
// on the checks. A check only says whether the writer's copy of a set was
// current: it runs after the write committed, so a scheme a reader adds
// after the check belongs to a reader that registered after the commit and
// whose query therefore sees it; one added before the check is seen by it.
// A set check that fails is answered as the script answers it, the set as
// SMEMBERS read it, so that the writer's second round trip (made only when
// a set changed) invalidates by the new set. A set that has no marker (lost
// and made again by a reader) or another type, or a big one, is answered
// {i, unread}: the script reads it (and marks it) in one more round trip.
type plainCall struct {
	checks []Check
	reads  [][]redis.Cmder // per check: its commands
	dels   []*redis.IntCmd
	stamps []string
}

// unread, as a failed set check's second element, asks InvalidateChecked
// to read the set: the plain commands saw only that it changed.
const unread = 2

// queue adds the call's commands to pipe.
func (p *plainCall) queue(ctx context.Context, pipe redis.Pipeliner) {
	p.reads = make([][]redis.Cmder, len(p.checks))
	for i, c := range p.checks {
		switch {
		case c.Size == -1:
			p.reads[i] = []redis.Cmder{pipe.Get(ctx, c.Key)}
		case c.Size <= maxReadMembers:
			p.reads[i] = []redis.Cmder{pipe.SMembers(ctx, c.Key)}
		default:
			p.reads[i] = []redis.Cmder{pipe.SCard(ctx, c.Key), pipe.SIsMember(ctx, c.Key, c.Token)}
		}
	}
	p.dels = p.dels[:0]
	for i := 0; i < len(p.stamps); i += maxDelKeys {
		chunk := p.stamps[i:min(i+maxDelKeys, len(p.stamps))]
		p.dels = append(p.dels, pipe.Del(ctx, chunk...))
	}
}

// maxDelKeys bounds the keys of one DEL, as the script's chunks do.
const maxDelKeys = 1000

// maxReadMembers: a copy of a schemes set up to this size is checked by
// reading the set whole, which costs Redis about what SCARD and SISMEMBER
// do and brings the new set along when it changed.
const maxReadMembers = 32

// reply is the call's outcome in the script's form: the failed checks, or
// the error that kept the call from being answered (a reply error to a
// check, WRONGTYPE, only fails that check: the script's read handles it).
func (p *plainCall) reply(ctx context.Context) *redis.Cmd {
	cmd := redis.NewCmd(ctx)
	for _, d := range p.dels {
		if err := d.Err(); err != nil {
			cmd.SetErr(err)
			return cmd
		}
	}
	failed := []any{}
	for i, c := range p.checks {
		f, err := p.check(i, c)
		if err != nil {
			cmd.SetErr(err)
			return cmd
		}
		if f != nil {
			failed = append(failed, f)
		}
	}
	cmd.SetVal(failed)
	return cmd
}

// check is check i's entry in the script's reply (nil when it held), or the
// error that kept it from being answered.
func (p *plainCall) check(i int, c Check) ([]any, error) {
	n := int64(i + 1)
	if members, ok := p.reads[i][0].(*redis.StringSliceCmd); ok {
		set, err := members.Result()
		if err != nil {
			return []any{n, int64(unread)}, replyOnly(err)
		}
		marked, found := false, false
		out := []any{n, int64(1)}
		for _, m := range set {
			marked = marked || strings.HasPrefix(m, "\x00")
			found = found || m == c.Token
			out = append(out, m)
		}
		switch {
		case len(set) == c.Size && (c.Size == 0 || found):
			return nil, nil
		case len(set) > 0 && !marked:
			return []any{n, int64(unread)}, nil
		}
		return out, nil
	}
	ok, err := p.holds(c, p.reads[i])
	switch {
	case ok:
		return nil, nil
	case c.Size == -1:
		return []any{n}, replyOnly(err)
	}
	return []any{n, int64(unread)}, replyOnly(err)
}

// replyOnly passes on an error that kept a command from being answered; a
// reply error (WRONGTYPE: a key of another type) only fails the check.
func replyOnly(err error) error {
	var reply redis.Error
	if errors.As(err, &reply) {
		return nil
	}
	return err
}

// holds reports whether a schema check or a big set's check held, by its
// commands' replies.
func (p *plainCall) holds(c Check, cmds []redis.Cmder) (bool, error) {
	if c.Size == -1 {
		v, err := cmds[0].(*redis.StringCmd).Result()
		if errors.Is(err, redis.Nil) {
			return false, nil
		}
		return err == nil && v == c.Token, err
	}
	n, err := cmds[0].(*redis.IntCmd).Result()
	if err != nil {
		return false, err
	}
	in, err := cmds[1].(*redis.BoolCmd).Result()
	return err == nil && n == int64(c.Size) && in, err
}
