package lua

import (
	"context"
	"errors"
	"log"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// client is the Redis client a Store uses, and whether it is a cluster's.
// A plain *redis.Client may name one node of a Redis Cluster (a URL with a
// single address, say): on first contact it asks the server, and for a
// cluster node makes a cluster client with the same options, which the
// Store then owns.
type client struct {
	cur        atomic.Pointer[clientState]
	mu         sync.Mutex // held while asking the server
	owned      *redis.ClusterClient
	lastReload atomic.Int64 // unix nanoseconds of the last slot map reload asked for
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

// observe follows a step's error. On a cluster, an error that is not a
// node's answer (a refused connection, a timeout) may mean a master died
// and a replica took its slots; go-redis keeps routing to the dead node
// until its periodic reload, a minute by default (redis/go-redis#3979), so
// the slot map is reloaded now, in the background, at most once a second.
func (c *client) observe(err error) {
	if err == nil {
		return
	}
	st := c.cur.Load()
	cc, ok := st.rdb.(*redis.ClusterClient)
	var reply redis.Error
	if !ok || errors.As(err, &reply) {
		return
	}
	now, last := time.Now().UnixNano(), c.lastReload.Load()
	if now-last < int64(time.Second) || !c.lastReload.CompareAndSwap(last, now) {
		return
	}
	cc.ReloadState(context.Background())
}
