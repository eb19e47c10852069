package lua

import (
	"context"
	"errors"

	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops/internal/breaker"
)

// ErrNodeDown is the error of an invalidation call that was not sent: its
// Redis Cluster node has kept failing (its circuit breaker is open). Its
// stamps come back as undelivered, to be sent again.
var ErrNodeDown = errors.New("cacheops/lua: Redis Cluster node unreachable (its circuit breaker is open); call not sent")

// nodeBreaker is a cluster node's own circuit breaker for invalidations: a
// node that keeps failing costs them no timeout, and holds back none bound
// for the nodes that answer. (One breaker for the whole cluster would keep
// every invalidation for a second whenever one node fails, while other
// processes go on serving hits from the nodes that answer.)
func (s *Store) nodeBreaker(addr string) *breaker.Breaker {
	if b, ok := s.nodes.Load(addr); ok {
		return b.(*breaker.Breaker)
	}
	b, _ := s.nodes.LoadOrStore(addr, &breaker.Breaker{Threshold: breaker.DefaultThreshold, Cooldown: breaker.DefaultCooldown})
	return b.(*breaker.Breaker)
}

// routeCalls finds each call's node on a cluster. It returns the calls to
// send and each call's node address; a call whose node's breaker is open
// is not sent, and fails with ErrNodeDown. When the slot map cannot say,
// every call fails with that error.
func (s *Store) routeCalls(ctx context.Context, cc *redis.ClusterClient, calls []*call) (send []*call, nodes []string, err error) {
	nodes = make([]string, len(calls))
	allowed := map[string]bool{}
	for i, c := range calls {
		node, merr := cc.MasterForKey(ctx, c.keys[0])
		if merr != nil {
			s.client.observe(merr)
			failAll(ctx, calls, merr)
			return nil, nil, merr
		}
		addr := node.Options().Addr
		nodes[i] = addr
		ok, seen := allowed[addr]
		if !seen {
			ok = s.nodeBreaker(addr).Allow() // once per node: the half-open probe is one call's
			allowed[addr] = ok
		}
		if ok {
			send = append(send, c)
			continue
		}
		failAll(ctx, []*call{c}, ErrNodeDown)
		err = ErrNodeDown
	}
	return send, nodes, err
}

// recordNodes feeds each node's breaker with the outcome of the calls sent
// to it: a node that answered, even with an error reply, is up.
func (s *Store) recordNodes(calls []*call, nodes []string) {
	outcome := map[string]error{} // nil: every call answered
	for i, c := range calls {
		err := c.cmd.Err()
		if errors.Is(err, ErrNodeDown) {
			continue // not sent
		}
		var reply redis.Error
		if err != nil && !errors.As(err, &reply) && !errors.Is(err, ErrNotReplicated) {
			outcome[nodes[i]] = err
		} else if _, seen := outcome[nodes[i]]; !seen {
			outcome[nodes[i]] = nil
		}
	}
	for addr, err := range outcome {
		s.nodeBreaker(addr).Record(err)
	}
}

// Cluster reports whether the Store talks to a Redis Cluster: then each
// node's failures are its own (see ErrNodeDown).
func (s *Store) Cluster() bool {
	_, cluster := s.client.get()
	return cluster
}
