package cacheops_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisCluster is a 3-master Redis Cluster of the test's own, on free
// loopback ports, from the installed redis-server.
type redisCluster struct {
	nodes    []*redisServer // the masters
	replicas []*redisServer // replicas[i] replicates nodes[i], if any
}

func startClusterNode(t *testing.T, args ...string) *redisServer {
	dir := filepath.Join(t.TempDir(), "node")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return startRedis(t, append([]string{"--cluster-enabled", "yes", "--dir", dir,
		"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "2000"}, args...)...)
}

// startClusterWithReplicas is startCluster with a replica per master.
func startClusterWithReplicas(t *testing.T) *redisCluster {
	c := startCluster(t)
	ctx := context.Background()
	for _, m := range c.nodes {
		mc := m.client()
		id, err := mc.ClusterMyID(ctx).Result()
		mc.Close()
		if err != nil {
			t.Fatal(err)
		}
		r := startClusterNode(t, "--enable-debug-command", "yes")
		rc := r.client()
		if err := rc.ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(m.port)).Err(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(10 * time.Second); ; {
			if err := rc.ClusterReplicate(ctx, id).Err(); err == nil {
				break
			} else if time.Now().After(deadline) {
				t.Fatalf("CLUSTER REPLICATE: %v", err)
			}
			time.Sleep(100 * time.Millisecond)
		}
		rc.Close()
		c.replicas = append(c.replicas, r)
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		online := 0
		for _, m := range c.nodes {
			mc := m.client()
			if strings.Contains(mc.Info(ctx, "replication").Val(), "state=online") {
				online++
			}
			mc.Close()
		}
		if online == len(c.nodes) && c.ready(ctx) {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatal("the replicas did not come online")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func startCluster(t *testing.T, args ...string) *redisCluster {
	t.Helper()
	c := &redisCluster{}
	for i := 0; i < 3; i++ {
		c.nodes = append(c.nodes, startClusterNode(t, args...))
	}
	ctx := context.Background()
	per := 16384 / len(c.nodes)
	for i, n := range c.nodes {
		rdb := n.client()
		hi := (i+1)*per - 1
		if i == len(c.nodes)-1 {
			hi = 16383
		}
		if err := rdb.ClusterAddSlotsRange(ctx, i*per, hi).Err(); err != nil {
			t.Fatalf("node %d: %v", n.port, err)
		}
		if i > 0 {
			if err := rdb.ClusterMeet(ctx, "127.0.0.1", strconv.Itoa(c.nodes[0].port)).Err(); err != nil {
				t.Fatal(err)
			}
		}
		rdb.Close()
	}
	deadline := time.Now().Add(20 * time.Second)
	for !c.ready(ctx) {
		if time.Now().After(deadline) {
			t.Fatal("the cluster did not become ready")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return c
}

func (s *redisServer) client() *redis.Client {
	return redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(s.port)})
}

// ready: every node sees the cluster as ok and knows every other.
func (c *redisCluster) ready(ctx context.Context) bool {
	for _, n := range c.nodes {
		rdb := n.client()
		info, err := rdb.ClusterInfo(ctx).Result()
		nodes, _ := rdb.ClusterNodes(ctx).Result()
		rdb.Close()
		if err != nil || !strings.Contains(info, "cluster_state:ok") || strings.Count(nodes, "master") < len(c.nodes) {
			return false
		}
	}
	return true
}

// url is go-redis' cluster URL: one seed node in the host, the others as addr.
func (c *redisCluster) url() string {
	u := "redis://127.0.0.1:" + strconv.Itoa(c.nodes[0].port)
	for i, n := range c.nodes[1:] {
		sep := "&"
		if i == 0 {
			sep = "?"
		}
		u += sep + "addr=127.0.0.1:" + strconv.Itoa(n.port)
	}
	return u
}

// keysPerNode counts the keys with prefix on each master.
func (c *redisCluster) keysPerNode(t *testing.T, prefix string) []int {
	out := make([]int, len(c.nodes))
	for i, n := range c.nodes {
		rdb := n.client()
		keys, err := rdb.Keys(context.Background(), prefix+"*").Result()
		rdb.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[i] = len(keys)
	}
	return out
}

// The cluster helper works: three masters, every slot served.
func TestClusterHelper(t *testing.T) {
	t.Parallel()
	c := startCluster(t)
	o, err := redis.ParseClusterURL(c.url())
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClusterClient(o)
	defer rdb.Close()
	ctx := context.Background()
	for i := 0; i < 30; i++ {
		if err := rdb.Set(ctx, fmt.Sprintf("k%d", i), "v", time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for i, n := range c.keysPerNode(t, "k") {
		if n == 0 {
			t.Fatalf("node %d holds none of 30 keys", i)
		}
	}
}
