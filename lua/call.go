package lua

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// call is one script call of a step, or an invalidation sent as plain
// commands (plain): either way its outcome is on cmd, in the script's form.
type call struct {
	script *redis.Script
	keys   []string
	args   []any
	cmd    *redis.Cmd
	plain  *plainCall
}

// run sends the call alone: EVALSHA, and EVAL when the node lacks the script.
func (c *call) run(ctx context.Context, rdb redis.UniversalClient) *redis.Cmd {
	if c.plain != nil {
		pipe := rdb.Pipeline()
		c.plain.queue(ctx, pipe)
		_, _ = pipe.Exec(ctx)
		c.cmd = c.plain.reply(ctx)
		return c.cmd
	}
	c.cmd = c.script.Run(ctx, rdb, c.keys, c.args...)
	return c.cmd
}

// queue adds the call to pipe by EVALSHA (or by EVAL, when eval), or as its
// plain commands; settle reads the outcome once pipe has run.
func (c *call) queue(ctx context.Context, pipe redis.Pipeliner, eval bool) {
	switch {
	case c.plain != nil:
		c.plain.queue(ctx, pipe)
	case eval:
		c.cmd = c.script.Eval(ctx, pipe, c.keys, c.args...)
	default:
		c.cmd = c.script.EvalSha(ctx, pipe, c.keys, c.args...)
	}
}

func (c *call) settle(ctx context.Context) {
	if c.plain != nil {
		c.cmd = c.plain.reply(ctx)
	}
}

// noScript reports whether the call met a node that lacks its script.
func (c *call) noScript() bool {
	return c.plain == nil && redis.HasErrorPrefix(c.cmd.Err(), "NOSCRIPT")
}

// failAll marks calls failed with err: none of them is sent.
func failAll(ctx context.Context, calls []*call, err error) {
	for _, c := range calls {
		c.cmd = redis.NewCmd(ctx)
		c.cmd.SetErr(err)
	}
}

// runAll sends calls together, one pipeline by EVALSHA (a cluster client
// sends each to its slot's node, nodes in parallel). A pipeline cannot fall
// back from NOSCRIPT (a node restarted, failed over or newly added lacks the
// scripts), so the calls that failed so are sent again by EVAL, which also
// leaves the script cached on their nodes. Each call's outcome is on its
// cmd; the first error is returned.
func (s *Store) runAll(ctx context.Context, rdb redis.UniversalClient, calls []*call) error {
	if len(calls) == 1 {
		err := calls[0].run(ctx, rdb).Err()
		s.client.observe(err)
		return err
	}
	pipe := rdb.Pipeline()
	for _, c := range calls {
		c.queue(ctx, pipe, false)
	}
	_, _ = pipe.Exec(ctx)
	var again redis.Pipeliner
	for _, c := range calls {
		c.settle(ctx)
		if c.noScript() {
			if again == nil {
				again = rdb.Pipeline()
			}
			c.queue(ctx, again, true)
		}
	}
	if again != nil {
		_, _ = again.Exec(ctx)
	}
	for _, c := range calls {
		if err := c.cmd.Err(); err != nil {
			s.client.observe(err)
			return err
		}
	}
	return nil
}
