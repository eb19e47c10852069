package lua

import (
	"context"
	"net"

	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops/internal/direct"
)

// lookupPool returns the pool for a lookup of keys (one slot's), or nil:
// go through the client.
func (st *clientState) lookupPool(ctx context.Context, keys []string, viaClient bool) *direct.Pool {
	if viaClient {
		return nil
	}
	if !st.cluster {
		return st.direct
	}
	node, err := st.rdb.(*redis.ClusterClient).MasterForKey(ctx, keys[0])
	if err != nil {
		return nil // the client will say why
	}
	addr := node.Options().Addr
	if p, ok := st.masters.Load(addr); ok {
		return p.(*direct.Pool)
	}
	// A pool made in vain, by a lookup that lost the race, never dialled.
	p, _ := st.masters.LoadOrStore(addr, directPool(node))
	return p.(*direct.Pool)
}

// redirected reports whether err sends the lookup elsewhere (a slot moved:
// the cluster client follows it, and learns the new map).
func redirected(err error) bool {
	return redis.HasErrorPrefix(err, "MOVED") || redis.HasErrorPrefix(err, "ASK") || redis.HasErrorPrefix(err, "TRYAGAIN")
}

func (st *clientState) closeDirect() {
	if st.direct != nil {
		_ = st.direct.Close()
	}
	st.masters.Range(func(_, p any) bool {
		if p := p.(*direct.Pool); p != nil {
			_ = p.Close()
		}
		return true
	})
}

// directPool returns a pool of connections of cacheops' own to the server
// rdb talks to, for lookups (internal/direct: a hit's MGET costs 4–5 µs
// less than through go-redis), or nil when rdb must be used: a Sentinel
// client (its master changes under it), or a client whose connections run
// a hook of the user's when they open (OnConnect), go through a limiter or
// have their credentials streamed. Commands sent this way pass none of the
// client's hooks; Store.LookupsThroughClient sends them through it.
func directPool(rdb redis.UniversalClient) *direct.Pool {
	c, ok := rdb.(*redis.Client)
	if !ok {
		return nil
	}
	o := c.Options()
	if o.Addr == "FailoverClient" || o.OnConnect != nil || o.Limiter != nil || o.StreamingCredentialsProvider != nil {
		return nil
	}
	return direct.New(direct.Options{
		Dial:        Dialer(o),
		Credentials: func(ctx context.Context) (string, string, error) { return Credentials(ctx, o) },
		DB:          o.DB,
		ClientName:  o.ClientName,
	})
}

// Dialer opens connections to a client's server as its own are opened:
// its dialer (TLS included), else plain TCP.
func Dialer(o *redis.Options) func(ctx context.Context) (net.Conn, error) {
	return func(ctx context.Context) (net.Conn, error) {
		if o.Dialer != nil {
			return o.Dialer(ctx, o.Network, o.Addr)
		}
		var d net.Dialer
		return d.DialContext(ctx, "tcp", o.Addr)
	}
}

// Credentials are the user and password a client's connections use (its
// providers asked, if it has them).
func Credentials(ctx context.Context, o *redis.Options) (user, pass string, err error) {
	switch {
	case o.CredentialsProviderContext != nil:
		return o.CredentialsProviderContext(ctx)
	case o.CredentialsProvider != nil:
		user, pass = o.CredentialsProvider()
		return user, pass, nil
	}
	return o.Username, o.Password, nil
}
