package lua

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// ErrNotReplicated is returned by an invalidation that reached the master
// but fewer replicas than asked for (SetWaitReplicas) acknowledged it in
// time: a failover now could bring the deleted stamps back, so the caller
// keeps them as undelivered and sends them again.
var ErrNotReplicated = errors.New("cacheops/lua: the invalidation was not acknowledged by enough replicas")

// SetWaitReplicas makes every invalidation wait (WAIT) until n replicas of
// each master it wrote to acknowledged it, bounded by the call's deadline.
// Set it before the Store is used.
func (s *Store) SetWaitReplicas(n int) { s.waitReplicas = n }

// runAllWaited is runAll followed by WAIT on the connection that carried
// the calls (WAIT covers only its own connection's writes): one pipeline
// per master. On a cluster the calls are routed by the slot map; a call
// answered MOVED or ASK is reported as failed and the map reloaded.
func (s *Store) runAllWaited(ctx context.Context, rdb redis.UniversalClient, cluster bool, calls []*call) error {
	timeout := time.Second
	if d, ok := ctx.Deadline(); ok {
		timeout = time.Until(d) * 9 / 10
	}
	if !cluster {
		return runWaited(ctx, rdb, calls, s.waitReplicas, timeout)
	}
	cc := rdb.(*redis.ClusterClient)
	byNode := map[*redis.Client][]*call{}
	for _, c := range calls {
		node, err := cc.MasterForKey(ctx, c.keys[0])
		if err != nil {
			s.client.observe(err)
			for _, c := range calls {
				c.cmd = redis.NewCmd(ctx)
				c.cmd.SetErr(err)
			}
			return err
		}
		byNode[node] = append(byNode[node], c)
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(byNode))
	for node, calls := range byNode {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- runWaited(ctx, node, calls, s.waitReplicas, timeout)
		}()
	}
	wg.Wait()
	close(errs)
	var first error
	for err := range errs {
		if err != nil && first == nil {
			first = err
		}
	}
	s.client.observe(first)
	for _, c := range calls {
		if err := c.cmd.Err(); redis.HasErrorPrefix(err, "MOVED") || redis.HasErrorPrefix(err, "ASK") {
			cc.ReloadState(ctx)
			break
		}
	}
	return first
}

// runWaited sends calls and WAIT in one pipeline on one connection (and the
// calls that met NOSCRIPT again by EVAL, with another WAIT). When too few
// replicas acknowledge, every call is marked ErrNotReplicated.
func runWaited(ctx context.Context, rdb redis.Cmdable, calls []*call, replicas int, timeout time.Duration) error {
	pipe := rdb.Pipeline()
	for _, c := range calls {
		c.cmd = c.script.EvalSha(ctx, pipe, c.keys, c.args...)
	}
	waits := []*redis.Cmd{waitCmd(ctx, pipe, replicas, timeout)}
	_, _ = pipe.Exec(ctx)
	var missing []*call
	for _, c := range calls {
		if redis.HasErrorPrefix(c.cmd.Err(), "NOSCRIPT") {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		pipe := rdb.Pipeline()
		for _, c := range missing {
			c.cmd = c.script.Eval(ctx, pipe, c.keys, c.args...)
		}
		// Perhaps another connection: its own WAIT covers these.
		waits = append(waits, waitCmd(ctx, pipe, replicas, timeout))
		_, _ = pipe.Exec(ctx)
	}
	for _, c := range calls {
		if err := c.cmd.Err(); err != nil {
			return err
		}
	}
	for _, w := range waits {
		n, err := w.Int64()
		if err == nil && n < int64(replicas) {
			// A master with fewer replicas than asked for (one left alone
			// by a failover) needs the acknowledgement of those it has:
			// none can be promoted holding a stamp they did not delete.
			err = enoughReplicas(ctx, rdb, n)
		}
		if err != nil {
			for _, c := range calls {
				c.cmd.SetErr(ErrNotReplicated)
			}
			return ErrNotReplicated
		}
	}
	return nil
}

// enoughReplicas reports whether acked acknowledgements are all the
// replicas connected to the node.
func enoughReplicas(ctx context.Context, rdb redis.Cmdable, acked int64) error {
	info, err := rdb.Info(ctx, "replication").Result()
	if err != nil {
		return err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_slaves:"); ok {
			if n, err := strconv.ParseInt(v, 10, 64); err == nil && acked >= n {
				return nil
			}
		}
	}
	return ErrNotReplicated
}

// waitCmd queues WAIT (which is not on go-redis' Pipeliner).
func waitCmd(ctx context.Context, pipe redis.Pipeliner, replicas int, timeout time.Duration) *redis.Cmd {
	return pipe.Do(ctx, "wait", replicas, max(timeout.Milliseconds(), 1))
}
