package cacheops_test

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// Every key a script touches is declared in KEYS: the rule Redis Cluster
// needs (a script runs on the node of its keys) and Dragonfly enforces
// (without allow-undeclared-keys, which takes a global lock per script).
// This runs the integration suite again, in a second process, against a
// Redis of its own under MONITOR, and checks every command a script ran.
func TestScriptsDeclareEveryKey(t *testing.T) {
	if os.Getenv("CACHEOPS_MONITOR_CHILD") != "" || os.Getenv("CACHEOPS_TORTURE_HELPER") != "" {
		return
	}
	srv := startRedis(t)
	mon, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(srv.port))
	if err != nil {
		t.Fatal(err)
	}
	defer mon.Close()
	if _, err := mon.Write([]byte("MONITOR\r\n")); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var lines []string
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(mon)
		sc.Buffer(make([]byte, 1<<20), 64<<20)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, strings.TrimPrefix(sc.Text(), "+"))
			mu.Unlock()
		}
	}()
	child := exec.Command(os.Args[0], "-test.count=1",
		"-test.skip=^(TestTorture|TestScriptsDeclareEveryKey|TestRedisThatNeverAnswers|TestSlowRedis|TestRedisStoppedAndRestarted)")
	child.Env = append(os.Environ(), "CACHEOPS_MONITOR_CHILD=1", "CACHEOPS_TEST_REDIS="+srv.url())
	out, err := child.CombinedOutput()
	if err != nil {
		t.Fatalf("the suite failed under MONITOR: %v\n%s", err, tail(out, 4000))
	}
	mon.Close()
	<-done
	scripts, commands, bad := undeclaredKeys(lines)
	if scripts < 1000 || commands < 1000 {
		t.Fatalf("too little was checked: %d script calls running %d commands", scripts, commands)
	}
	for i, b := range bad {
		if i < 10 {
			t.Error(b)
		}
	}
	t.Logf("%d script calls, %d commands inside them, %d undeclared keys", scripts, commands, len(bad))
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
