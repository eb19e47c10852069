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
		return s.runWaited(ctx, rdb, calls, timeout)
	}
	cc := rdb.(*redis.ClusterClient)
	byNode := map[*redis.Client][]*call{}
	for _, c := range calls {
		node, err := cc.MasterForKey(ctx, c.keys[0])
		if err != nil {
			s.client.observe(err)
			failAll(ctx, calls, err)
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
			errs <- s.runWaited(ctx, node, calls, timeout)
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
//
// A master with fewer connected replicas than asked for (one left alone by
// a failover) needs the acknowledgement of those it has: a replica that is
// not there cannot be promoted holding a stamp it did not delete. So WAIT
// asks for at most the replicas the node was last seen with (INFO, read
// every ten seconds and whenever WAIT falls short), and a node seen with
// none is not waited for at all: WAIT for a replica that does not exist
// would cost every write the whole timeout.
func (s *Store) runWaited(ctx context.Context, rdb redis.UniversalClient, calls []*call, timeout time.Duration) error {
	addr := ""
	if c, ok := rdb.(*redis.Client); ok {
		addr = c.Options().Addr
	}
	want := s.waitReplicas
	if seen, ok := s.replicasSeen(addr); ok {
		want = min(want, seen)
	} else if have, err := s.countReplicas(ctx, rdb, addr); err == nil {
		want = min(want, have)
	}
	var waits []*redis.Cmd
	send := func(eval bool, calls []*call) {
		pipe := rdb.Pipeline()
		for _, c := range calls {
			c.queue(ctx, pipe, eval)
		}
		if want > 0 {
			// Perhaps another connection each time: its own WAIT covers it.
			waits = append(waits, pipe.Do(ctx, "wait", want, max(timeout.Milliseconds(), 1)))
		}
		_, _ = pipe.Exec(ctx)
		for _, c := range calls {
			c.settle(ctx)
		}
	}
	send(false, calls)
	var missing []*call
	for _, c := range calls {
		if c.noScript() {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		send(true, missing)
	}
	for _, c := range calls {
		if err := c.cmd.Err(); err != nil {
			return err
		}
	}
	for _, w := range waits {
		n, err := w.Int64()
		if err == nil && n < int64(want) {
			if have, ierr := s.countReplicas(ctx, rdb, addr); ierr != nil || n < int64(min(want, have)) {
				err = ErrNotReplicated
			}
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

// replicaCount is a node's connected replicas as last read.
type replicaCount struct {
	n  int
	at time.Time
}

// replicasSeen returns the replicas a node was last seen with, unless that
// is unknown or older than ten seconds (a new replica is waited for soon
// after it joins).
func (s *Store) replicasSeen(addr string) (int, bool) {
	if v, ok := s.replicas.Load(addr); ok {
		if rc := v.(replicaCount); time.Since(rc.at) < 10*time.Second {
			return rc.n, true
		}
	}
	return 0, false
}

// countReplicas reads a node's connected replicas and remembers them.
func (s *Store) countReplicas(ctx context.Context, rdb redis.UniversalClient, addr string) (int, error) {
	info, err := rdb.Info(ctx, "replication").Result()
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "connected_slaves:"); ok {
			n, err := strconv.Atoi(v)
			if err != nil {
				return 0, err
			}
			s.replicas.Store(addr, replicaCount{n: n, at: time.Now()})
			return n, nil
		}
	}
	return 0, ErrBadReply
}
