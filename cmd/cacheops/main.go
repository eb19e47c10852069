package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/cacheops/cacheops"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

const usage = `usage: cacheops [--dsn URL] <command> [arguments]

  explain 'SQL' [args…]        is it cached, on what it depends, what a write invalidates
  stats                        entries, stamps and memory in Redis, by kind
  invalidate --table T… | --all   invalidate tables (or everything) after outside writes
  doctor                       what would stop caching: servers, settings, layout
  watch [--uninstall]          invalidate writes made outside cacheops (logical decoding), until stopped

The database: --dsn, else CACHEOPS_DATABASE, else DATABASE_URL. Redis and
the rest: CACHEOPS_REDIS, CACHEOPS_PREFIX, CACHEOPS_TTL, CACHEOPS_TABLES.
`

// run is the command, with its output where the tests want it; it returns
// the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("cacheops", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	dsn := fs.String("dsn", "", "PostgreSQL URL (default CACHEOPS_DATABASE, else DATABASE_URL)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	if *dsn == "" {
		*dsn = os.Getenv("CACHEOPS_DATABASE")
	}
	if *dsn == "" {
		*dsn = os.Getenv("DATABASE_URL")
	}
	cmd, rest := fs.Arg(0), fs.Args()[1:]
	var err error
	switch cmd {
	case "explain":
		err = withDB(*dsn, func(c *cacheops.Cache, db *sql.DB) error { return explain(ctx, stdout, db, rest) })
	case "stats":
		err = withCache(func(c *cacheops.Cache) error { return stats(ctx, stdout, c) })
	case "invalidate":
		err = withDB(*dsn, func(c *cacheops.Cache, db *sql.DB) error { return invalidate(ctx, stdout, stderr, db, rest) })
	case "watch":
		err = withDB(*dsn, func(c *cacheops.Cache, db *sql.DB) error { return watchCmd(ctx, stdout, stderr, db, *dsn, rest) })
	case "doctor":
		var failed bool
		err = withCache(func(c *cacheops.Cache) error { failed = doctor(ctx, stdout, c, *dsn); return nil })
		if err == nil && failed {
			return 1
		}
	default:
		fmt.Fprintf(stderr, "cacheops: unknown command %q\n\n", cmd)
		fs.Usage()
		return 2
	}
	if errors.Is(err, errUsage) {
		fs.Usage()
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "cacheops:", err)
		return 1
	}
	return 0
}

var errUsage = errors.New("usage")

func withCache(f func(*cacheops.Cache) error) error {
	c, err := cacheops.New(cacheops.Options{})
	if err != nil {
		return err
	}
	defer c.Close()
	return f(c)
}

func withDB(dsn string, f func(*cacheops.Cache, *sql.DB) error) error {
	if dsn == "" {
		return errors.New("no database: give --dsn, or set CACHEOPS_DATABASE or DATABASE_URL")
	}
	return withCache(func(c *cacheops.Cache) error {
		db, err := c.OpenDB(dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		return f(c, db)
	})
}

// argument reads a command-line argument as Go code would most likely pass
// it: an integer, a float, a boolean, NULL, else text.
func argument(s string) any {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return f
	}
	switch s {
	case "true", "false":
		return s == "true"
	case "NULL":
		return nil
	}
	return s
}
