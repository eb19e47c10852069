package cacheops_test

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/cacheops/cacheops"
)

// A Sentinel-managed master through the URL: master_name builds a failover
// client, which caches and invalidates like a single server.
func TestSentinelThroughTheURL(t *testing.T) {
	t.Parallel()
	master := startRedis(t)
	sentinel := startSentinel(t, master.port)
	url := fmt.Sprintf("redis://127.0.0.1:%d/0?master_name=main", sentinel)
	cache, err := cacheops.New(cacheops.Options{RedisURL: url, Prefix: "sentinel-test:"})
	if err != nil {
		t.Fatal(err)
	}
	defer cache.Close()
	e := newFixture(t)
	db, err := cache.OpenDB(withSearchPath(testDSN(), e.schema))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := "SELECT title FROM post WHERE id = 1"
	rows(t, db, q)
	if got := rows(t, db, q); got != "Cacheops" || cache.Stats().Hits != 1 {
		t.Fatalf("no hit through Sentinel: %q %+v", got, cache.Stats())
	}
	mustExec(t, db, "UPDATE post SET title = 'via sentinel' WHERE id = 1")
	if got := rows(t, db, q); got != "via sentinel" {
		t.Fatalf("stale read through Sentinel: %q", got)
	}
	if n, _ := cache.Redis().DBSize(e.ctx).Result(); n == 0 {
		t.Fatal("nothing was stored on the master Sentinel names")
	}
}

// Clients that cannot be correct are refused when the cache is made.
func TestRedisURLsThatCannotWork(t *testing.T) {
	t.Parallel()
	for url, want := range map[string]error{
		"redis://127.0.0.1:26379/0?master_name=main&replica_only=true":   cacheops.ErrReplicaReads,
		"redis://127.0.0.1:26379/0?master_name=main&route_randomly=true": cacheops.ErrReplicaReads,
		"redis://127.0.0.1:7001?addr=127.0.0.1:7002&read_only=true":      cacheops.ErrReplicaReads,
		"redis://127.0.0.1:7001?addr=127.0.0.1:7002&route_randomly=true": cacheops.ErrReplicaReads,
	} {
		if _, err := cacheops.New(cacheops.Options{RedisURL: url}); !errors.Is(err, want) {
			t.Errorf("%s: %v, want %v", url, err, want)
		}
	}
}

// startSentinel runs a Sentinel of the test's own watching the master on
// masterPort, and returns its port.
func startSentinel(t *testing.T, masterPort int) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	conf := filepath.Join(t.TempDir(), "sentinel.conf")
	body := fmt.Sprintf("port %d\nbind 127.0.0.1\nsentinel monitor main 127.0.0.1 %d 1\nsentinel down-after-milliseconds main 1000\n", port, masterPort)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("redis-server", conf, "--sentinel")
	if err := cmd.Start(); err != nil {
		t.Fatalf("redis-server --sentinel: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for i := 0; i < 100; i++ {
		if c, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port)); err == nil {
			c.Close()
			return port
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("sentinel on %d did not start", port)
	return 0
}
