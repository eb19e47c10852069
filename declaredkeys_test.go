package cacheops_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/redis/go-redis/v9"
)

// The integration suite runs on a 3-master Redis Cluster, and every key a
// script touches is declared in its KEYS: the rule Redis Cluster needs (a
// script runs on the node of its keys) and Dragonfly enforces (without
// allow-undeclared-keys, which takes a global lock per script). This runs
// the suite again, in a second process, against a cluster (clusterUnderTest) with
// every master under MONITOR; it checks every command a script ran, that
// every master ran scripts and that no node ever answered CROSSSLOT.
func TestScriptsDeclareEveryKey(t *testing.T) {
	if os.Getenv("CACHEOPS_MONITOR_CHILD") != "" || os.Getenv("CACHEOPS_TORTURE_HELPER") != "" {
		return
	}
	url, ports := clusterUnderTest(t)
	monitors := make([]*monitor, len(ports))
	crossBefore := make([]string, len(ports))
	for i, port := range ports {
		monitors[i] = startMonitor(t, port)
		crossBefore[i] = crossSlotErrors(t, port)
	}
	// The tests that drive every script and the write's plain commands:
	// reads, writes of every kind, transactions, CachedAs, the fill lock,
	// refreshes, both APIs (the whole suite again would double make test).
	child := exec.Command(os.Args[0], "-test.count=1", "-test.run=^("+
		"TestScenarios|TestEveryWritePathInvalidates|TestDataModifyingCTEsAreGranular|TestManualInvalidation.*|"+
		"TestTransaction.*|TestInvalidationWaitsForCommit|TestSavepointRollbackThenCommit|TestCachedAs.*|"+
		"TestFillLockWaitIsBounded|TestFillLockWaiterStopsWhenTheHolderGivesUp|"+
		"TestRefresh.*|TestDDLElsewhereRefreshesTheCatalog|"+
		"TestCascadesOnlyForTheOperationsThatCascade|TestEveryOtherWayAStatementChangesRows|TestPool.*)$")
	child.Env = append(os.Environ(), "CACHEOPS_MONITOR_CHILD=1", "CACHEOPS_TEST_REDIS="+url)
	out, err := child.CombinedOutput()
	if err != nil {
		t.Fatalf("the suite failed on the cluster under MONITOR: %v\n%s", err, tail(out, 4000))
	}
	for i, m := range monitors {
		scripts, commands, bad := undeclaredKeys(m.stop())
		if scripts < 300 || commands < 300 {
			t.Errorf("master %d: too little was checked: %d script calls running %d commands", i, scripts, commands)
		}
		for j, b := range bad {
			if j < 10 {
				t.Errorf("master %d: %s", i, b)
			}
		}
		if after := crossSlotErrors(t, ports[i]); after != crossBefore[i] {
			t.Errorf("master %d answered CROSSSLOT: %q, before the run %q", i, after, crossBefore[i])
		}
		t.Logf("master %d: %d script calls, %d commands inside them, %d undeclared keys", i, scripts, commands, len(bad))
	}
}

// clusterUnderTest is the cluster CACHEOPS_TEST_CLUSTER names (the one
// scripts/services.sh starts), or one of the test's own: its URL and its
// masters' ports.
func clusterUnderTest(t *testing.T) (string, []int) {
	url := os.Getenv("CACHEOPS_TEST_CLUSTER")
	if url == "" {
		c := startCluster(t)
		ports := make([]int, len(c.nodes))
		for i, n := range c.nodes {
			ports[i] = n.port
		}
		return c.url(), ports
	}
	o, err := redis.ParseClusterURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClusterClient(o)
	defer rdb.Close()
	var mu sync.Mutex
	var ports []int
	err = rdb.ForEachMaster(context.Background(), func(_ context.Context, c *redis.Client) error {
		_, p, _ := net.SplitHostPort(c.Options().Addr)
		port, err := strconv.Atoi(p)
		mu.Lock()
		ports = append(ports, port)
		mu.Unlock()
		return err
	})
	if err != nil || len(ports) < 3 {
		t.Fatalf("the cluster at %s (run `make services`): %d masters, %v", url, len(ports), err)
	}
	return url, ports
}

// crossSlotErrors is a server's count of CROSSSLOT errors.
func crossSlotErrors(t *testing.T, port int) string {
	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:" + strconv.Itoa(port)})
	defer rdb.Close()
	stats, err := rdb.Info(context.Background(), "errorstats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(stats, "\n") {
		if strings.HasPrefix(line, "errorstat_CROSSSLOT:") {
			return strings.TrimSpace(line)
		}
	}
	return ""
}

// monitor collects a Redis server's MONITOR output.
type monitor struct {
	conn  net.Conn
	mu    sync.Mutex
	lines []string
	done  chan struct{}
}

func startMonitor(t *testing.T, port int) *monitor {
	conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.Write([]byte("MONITOR\r\n")); err != nil {
		t.Fatal(err)
	}
	m := &monitor{conn: conn, done: make(chan struct{})}
	go func() {
		defer close(m.done)
		sc := bufio.NewScanner(conn)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			m.mu.Lock()
			m.lines = append(m.lines, strings.TrimPrefix(sc.Text(), "+"))
			m.mu.Unlock()
		}
	}()
	return m
}

func (m *monitor) stop() []string {
	m.conn.Close()
	<-m.done
	return m.lines
}

// The checker finds an undeclared key.
func TestUndeclaredKeysAreFound(t *testing.T) {
	t.Parallel()
	log := []string{
		`OK`,
		`1.0 [0 127.0.0.1:1] "evalsha" "abc" "2" "k\"1" "k2" "arg"`,
		`1.1 [0 lua] "GET" "k\"1"`,
		`1.2 [0 lua] "DEL" "k\"1" "k2"`,
		`1.3 [0 127.0.0.1:1] "GET" "free"`,
		`1.4 [0 127.0.0.1:1] "EVAL" "return 1" "1" "k3"`,
		`1.5 [0 lua] "SET" "k4" "v"`,
	}
	scripts, commands, bad := undeclaredKeys(log)
	if scripts != 2 || commands != 3 || len(bad) != 1 || !strings.Contains(bad[0], `k4`) {
		t.Fatalf("%d %d %q", scripts, commands, bad)
	}
}

// undeclaredKeys reads MONITOR output: after each EVAL or EVALSHA come the
// commands its script ran ("[db lua]"), which may touch only its KEYS.
func undeclaredKeys(lines []string) (scripts, commands int, bad []string) {
	declared := map[string]bool{}
	for _, line := range lines {
		i := strings.Index(line, "] ")
		if i < 0 {
			continue
		}
		args := monitorArgs(line[i+2:])
		if len(args) == 0 {
			continue
		}
		cmd := strings.ToUpper(args[0])
		if !strings.Contains(line[:i], " lua") {
			if (cmd == "EVAL" || cmd == "EVALSHA" || cmd == "EVAL_RO" || cmd == "EVALSHA_RO") && len(args) >= 3 {
				scripts++
				declared = map[string]bool{}
				n, _ := strconv.Atoi(args[2])
				for _, k := range args[3:min(3+n, len(args))] {
					declared[k] = true
				}
			}
			continue
		}
		commands++
		var touched []string
		switch cmd {
		case "DEL", "UNLINK", "EXISTS", "MGET", "TOUCH":
			touched = args[1:]
		default:
			if len(args) > 1 {
				touched = args[1:2]
			}
		}
		for _, k := range touched {
			if !declared[k] {
				bad = append(bad, fmt.Sprintf("%s touches %q, not in its script's KEYS", cmd, k))
			}
		}
	}
	return scripts, commands, bad
}

// monitorArgs splits MONITOR's quoted, escaped arguments.
func monitorArgs(s string) []string {
	var args []string
	for i := 0; i < len(s); i++ {
		if s[i] != '"' {
			continue
		}
		var b strings.Builder
		for i++; i < len(s) && s[i] != '"'; i++ {
			if s[i] != '\\' || i+1 >= len(s) {
				b.WriteByte(s[i])
				continue
			}
			i++
			switch s[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'a':
				b.WriteByte('\a')
			case 'b':
				b.WriteByte('\b')
			case 'x':
				if i+2 < len(s) {
					if v, err := strconv.ParseUint(s[i+1:i+3], 16, 8); err == nil {
						b.WriteByte(byte(v))
						i += 2
						continue
					}
				}
				b.WriteByte('x')
			default:
				b.WriteByte(s[i])
			}
		}
		args = append(args, b.String())
	}
	return args
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
