package cacheops

import (
	"errors"
	"fmt"
	"net/url"

	"github.com/redis/go-redis/v9"
)

// ErrReplicaReads is returned by New for a Redis URL that reads from
// replicas: a replica may still hold a stamp its master has deleted.
var ErrReplicaReads = errors.New("cacheops: stamps must be read from the master (replica_only, read_only, route_randomly, route_by_latency)")

// clientFromURL builds the client a Redis URL names: a single server
// (redis://host:6379/0), a Sentinel-managed master (master_name=…, Sentinel
// addresses in the host and addr=…), or a cluster (addr=… without
// master_name: go-redis' cluster URL, every address a seed node). A single
// address that is a cluster node also works: the Store finds out at the
// first answer only a cluster node gives (MOVED, CROSSSLOT, …). RedisTimeout travels as a context deadline; go-redis applies it
// to the socket only when asked to.
func clientFromURL(raw string) (redis.UniversalClient, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("cacheops: redis url: %w", err)
	}
	q := u.Query()
	switch {
	case q.Has("master_name"):
		o, err := redis.ParseFailoverURL(raw)
		if err != nil {
			return nil, fmt.Errorf("cacheops: redis url: %w", err)
		}
		if o.ReplicaOnly || o.RouteRandomly || o.RouteByLatency {
			return nil, ErrReplicaReads
		}
		o.ContextTimeoutEnabled = true
		return redis.NewFailoverClient(o), nil
	case q.Has("addr"):
		o, err := redis.ParseClusterURL(raw)
		if err != nil {
			return nil, fmt.Errorf("cacheops: redis url: %w", err)
		}
		if o.ReadOnly || o.RouteRandomly || o.RouteByLatency {
			return nil, ErrReplicaReads
		}
		o.ContextTimeoutEnabled = true
		return redis.NewClusterClient(o), nil
	}
	o, err := redis.ParseURL(raw)
	if err != nil {
		return nil, fmt.Errorf("cacheops: redis url: %w", err)
	}
	o.ContextTimeoutEnabled = true
	return redis.NewClient(o), nil
}
