package lua

import (
	"context"
	"errors"
	"log"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/redis/go-redis/v9"
)

// client is the Redis client a Store uses, and whether it is a cluster's.
// A plain *redis.Client may name one node of a Redis Cluster (a URL with a
// single address, say): on first contact it asks the server, and for a
// cluster node makes a cluster client with the same options, which the
// Store then owns.
type client struct {
	cur   atomic.Pointer[clientState]
	mu    sync.Mutex // held while asking the server
	owned *redis.ClusterClient
}

type clientState struct {
	rdb     redis.UniversalClient
	cluster bool
	known   bool // whether it is a cluster is known
}

func newClient(rdb redis.UniversalClient) *client {
	c := &client{}
	_, isCluster := rdb.(*redis.ClusterClient)
	_, isPlain := rdb.(*redis.Client)
	c.cur.Store(&clientState{rdb: rdb, cluster: isCluster, known: !isPlain})
	return c
}

func (c *client) current() redis.UniversalClient { return c.cur.Load().rdb }

// get returns the client to use and whether it is a cluster's, asking the
// server first if that is not known yet.
func (c *client) get(ctx context.Context) (redis.UniversalClient, bool, error) {
	if st := c.cur.Load(); st.known {
		return st.rdb, st.cluster, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.cur.Load()
	if st.known {
		return st.rdb, st.cluster, nil
	}
	plain := st.rdb.(*redis.Client)
	info, err := plain.Info(ctx, "cluster").Result()
	var reply redis.Error
	if err != nil && !errors.As(err, &reply) {
		return nil, false, err // unreachable: ask again next time
	}
	if err != nil || !strings.Contains(info, "cluster_enabled:1") {
		c.cur.Store(&clientState{rdb: plain, known: true})
		return plain, false, nil
	}
	o := plain.Options()
	c.owned = redis.NewClusterClient(&redis.ClusterOptions{
		Addrs: []string{o.Addr}, Dialer: o.Dialer, OnConnect: o.OnConnect,
		Protocol: o.Protocol, Username: o.Username, Password: o.Password,
		CredentialsProvider: o.CredentialsProvider, ClientName: o.ClientName,
		MaxRetries: o.MaxRetries, MinRetryBackoff: o.MinRetryBackoff, MaxRetryBackoff: o.MaxRetryBackoff,
		DialTimeout: o.DialTimeout, ReadTimeout: o.ReadTimeout, WriteTimeout: o.WriteTimeout,
		ContextTimeoutEnabled: o.ContextTimeoutEnabled, PoolFIFO: o.PoolFIFO, PoolSize: o.PoolSize,
		PoolTimeout: o.PoolTimeout, MinIdleConns: o.MinIdleConns, MaxIdleConns: o.MaxIdleConns,
		MaxActiveConns: o.MaxActiveConns, ConnMaxIdleTime: o.ConnMaxIdleTime,
		ConnMaxLifetime: o.ConnMaxLifetime, TLSConfig: o.TLSConfig, DisableIdentity: o.DisableIdentity,
	})
	log.Printf("cacheops: %s is a Redis Cluster node: using a cluster client with its options", o.Addr)
	c.cur.Store(&clientState{rdb: c.owned, cluster: true, known: true})
	return c.owned, true, nil
}

func (c *client) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.owned == nil {
		return nil
	}
	return c.owned.Close()
}
