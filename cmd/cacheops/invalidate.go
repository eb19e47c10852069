package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/cacheops/cacheops"
)

type tableList []string

func (t *tableList) String() string     { return strings.Join(*t, ",") }
func (t *tableList) Set(v string) error { *t = append(*t, v); return nil }

func invalidate(ctx context.Context, w, stderr io.Writer, db *sql.DB, args []string) error {
	fs := flag.NewFlagSet("invalidate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var tables tableList
	fs.Var(&tables, "table", "a table (schema.table or table, through the search_path); repeat for more")
	all := fs.Bool("all", false, "every entry of the database, and every process reloads its catalog")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	switch {
	case *all && len(tables) == 0:
		if err := cacheops.InvalidateAll(ctx, db); err != nil {
			return err
		}
		fmt.Fprintln(w, "invalidated: every entry of the database; catalogs reload")
	case !*all && len(tables) > 0:
		if err := cacheops.InvalidateTables(ctx, db, tables...); err != nil {
			return err
		}
		fmt.Fprintf(w, "invalidated: %s (and what depends on them)\n", strings.Join(tables, ", "))
	default:
		return errUsage
	}
	return nil
}
