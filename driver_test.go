package cacheops_test

import (
	"errors"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops"
)

func TestRepeatedSelectIsServedFromRedis(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	q := "SELECT id, title FROM post WHERE id = $1"
	e.cached(q, 1)
	e.outOfBand("UPDATE post SET title = 'changed behind cacheops' WHERE id = 1")
	if got := e.read(q, 1); got != "1Cacheops" {
		t.Fatalf("expected the cached row, got %q", got)
	}
}

func TestWriteThroughCacheopsMakesNextReadFresh(t *testing.T) {
	t.Parallel()
	e := newFixture(t)
	q := "SELECT id, title FROM post WHERE id = $1"
	e.cached(q, 1)
	e.exec("UPDATE post SET title = 'x' WHERE id = 1")
	e.fresh(q, 1)
	if got := e.read(q, 1); got != "1x" {
		t.Fatalf("got %q", got)
	}
}

// A prefix whose first hash tag is empty makes Redis Cluster hash every key
// whole, so a step's keys would span slots: refused, loudly. A complete tag
// (every key on one node) is allowed.
func TestPrefixWithAnEmptyHashTagIsRefused(t *testing.T) {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer rdb.Close()
	for prefix, refused := range map[string]bool{"{}app:": true, "app{}:": true, "app{x}:": false, "app{": false, "app}{": false} {
		_, err := cacheops.New(cacheops.Options{Redis: rdb, Prefix: prefix})
		if (err != nil) != refused {
			t.Errorf("prefix %q: %v", prefix, err)
		}
	}
}

// A Ring would spread one step's keys over shards: refused, loudly.
func TestRingIsRefused(t *testing.T) {
	rdb := redis.NewRing(&redis.RingOptions{Addrs: map[string]string{"a": "127.0.0.1:1"}})
	defer rdb.Close()
	if _, err := cacheops.New(cacheops.Options{Redis: rdb}); !errors.Is(err, cacheops.ErrRing) {
		t.Fatalf("want ErrRing, got %v", err)
	}
}

// A cluster client that reads from replicas could read a stamp its master
// has deleted: it is refused, loudly.
func TestClusterClientReadingReplicasIsRefused(t *testing.T) {
	rdb := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{"127.0.0.1:1"}, ReadOnly: true})
	defer rdb.Close()
	if _, err := cacheops.New(cacheops.Options{Redis: rdb}); !errors.Is(err, cacheops.ErrReplicaReads) {
		t.Fatalf("want ErrReplicaReads, got %v", err)
	}
}
