package testenv

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
)

// LogicalPostgres starts a PostgreSQL of the test's own with wal_level =
// logical, from the installed server binaries, in a temporary directory on
// a free loopback port (initdb refuses root: it runs as postgres then), and
// returns its DSN; it is stopped and removed when the test ends.
func LogicalPostgres(t testing.TB) string {
	t.Helper()
	dsn, _ := LogicalPostgresRestartable(t)
	return dsn
}

// LogicalPostgresRestartable is LogicalPostgres with a function that
// restarts the server (fast shutdown: connections are cut, as in a crash
// of the server process they talk to).
func LogicalPostgresRestartable(t testing.TB) (dsn string, restart func()) {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		t.Fatal("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin): make services installs them")
	}
	sort.Strings(bins)
	bin := filepath.Dir(bins[len(bins)-1])
	dir, err := os.MkdirTemp("", "cacheops-logical-")
	if err != nil {
		t.Fatal(err)
	}
	asPostgres := func(name string, args ...string) *exec.Cmd {
		if os.Geteuid() == 0 {
			return exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(bin, name)}, args...)...)
		}
		return exec.Command(filepath.Join(bin, name), args...)
	}
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chown", "postgres", dir).CombinedOutput(); err != nil {
			t.Fatalf("chown: %v %s", err, out)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	data := filepath.Join(dir, "data")
	if out, err := asPostgres("initdb", "-D", data, "-A", "trust", "-U", "root", "--no-sync", "-E", "UTF8").CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s -c wal_level=logical -c fsync=off -c max_wal_senders=10 -c max_replication_slots=10", port, dir)
	if out, err := asPostgres("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start").CombinedOutput(); err != nil {
		t.Fatalf("pg_ctl start: %v\n%s", err, out)
	}
	t.Cleanup(func() {
		asPostgres("pg_ctl", "-D", data, "-m", "immediate", "stop").Run()
		os.RemoveAll(dir)
	})
	restart = func() {
		t.Helper()
		if out, err := asPostgres("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-m", "fast", "-w", "restart").CombinedOutput(); err != nil {
			t.Fatalf("pg_ctl restart: %v\n%s", err, out)
		}
	}
	return fmt.Sprintf("postgres://root@127.0.0.1:%d/postgres?sslmode=disable", port), restart
}
