package testenv

import (
	"errors"
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
	s, err := StartLogicalPostgres()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s.DSN, func() {
		t.Helper()
		if err := s.Restart(); err != nil {
			t.Fatal(err)
		}
	}
}

// LogicalServer is a PostgreSQL with wal_level = logical started by
// StartLogicalPostgres.
type LogicalServer struct {
	DSN string
	dir string
	cmd func(name string, args ...string) *exec.Cmd
	// ctl are pg_ctl's arguments after the action's.
	ctl []string
}

// StartLogicalPostgres starts a server for a test or a benchmark; Stop
// removes it.
func StartLogicalPostgres() (*LogicalServer, error) {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		return nil, errors.New("no PostgreSQL server binaries (/usr/lib/postgresql/*/bin): make services installs them")
	}
	sort.Strings(bins)
	bin := filepath.Dir(bins[len(bins)-1])
	dir, err := os.MkdirTemp("", "cacheops-logical-")
	if err != nil {
		return nil, err
	}
	s := &LogicalServer{dir: dir}
	s.cmd = func(name string, args ...string) *exec.Cmd {
		if os.Geteuid() == 0 {
			return exec.Command("runuser", append([]string{"-u", "postgres", "--", filepath.Join(bin, name)}, args...)...)
		}
		return exec.Command(filepath.Join(bin, name), args...)
	}
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chown", "postgres", dir).CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("chown: %v %s", err, out)
		}
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	data := filepath.Join(dir, "data")
	if out, err := s.cmd("initdb", "-D", data, "-A", "trust", "-U", "root", "--no-sync", "-E", "UTF8").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %v\n%s", err, out)
	}
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -k %s -c wal_level=logical -c fsync=off -c max_wal_senders=10 -c max_replication_slots=10", port, dir)
	s.ctl = []string{"-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w"}
	if out, err := s.cmd("pg_ctl", append([]string{"start"}, s.ctl...)...).CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("pg_ctl start: %v\n%s", err, out)
	}
	s.DSN = fmt.Sprintf("postgres://root@127.0.0.1:%d/postgres?sslmode=disable", port)
	return s, nil
}

// Restart restarts the server, cutting its connections.
func (s *LogicalServer) Restart() error {
	if out, err := s.cmd("pg_ctl", append([]string{"restart", "-m", "fast"}, s.ctl...)...).CombinedOutput(); err != nil {
		return fmt.Errorf("pg_ctl restart: %v\n%s", err, out)
	}
	return nil
}

// Stop stops the server and removes its files.
func (s *LogicalServer) Stop() {
	s.cmd("pg_ctl", "-D", s.ctl[1], "-m", "immediate", "stop").Run()
	os.RemoveAll(s.dir)
}
