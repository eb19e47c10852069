package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strings"

	"github.com/cacheops/cacheops"
)

func explain(ctx context.Context, w io.Writer, db *sql.DB, args []string) error {
	if len(args) == 0 {
		return errUsage
	}
	vals := make([]any, len(args)-1)
	for i, a := range args[1:] {
		vals[i] = argument(a)
	}
	ex, err := cacheops.Explain(ctx, db, args[0], vals...)
	if err != nil {
		return err
	}
	switch {
	case ex.Cacheable && ex.Skipped:
		fmt.Fprintln(w, "cached:        no — a control keeps it from the cache (a nocache hint or a table rule)")
	case ex.Cacheable:
		fmt.Fprintf(w, "cached:        yes, for %s\n", ex.TTL)
	default:
		fmt.Fprintf(w, "cached:        no — %s\n", ex.Reason)
	}
	list := func(title string, items []string) {
		if len(items) == 0 {
			return
		}
		fmt.Fprintf(w, "%-14s %s\n", title+":", items[0])
		for _, it := range items[1:] {
			fmt.Fprintf(w, "%-14s %s\n", "", it)
		}
	}
	list("tables", ex.Tables)
	list("invalidated by", quoted(ex.Conjunctions))
	if ex.EntryKey != "" {
		list("entry key", []string{ex.EntryKey})
	}
	list("stamps", ex.Stamps)
	list("writes", ex.Writes)
	var hints []string
	if ex.Hints.NoCache {
		hints = append(hints, "nocache")
	}
	if ex.Hints.Refresh {
		hints = append(hints, "refresh")
	}
	if ex.Hints.TTL > 0 {
		hints = append(hints, "ttl="+ex.Hints.TTL.String())
	}
	for _, u := range ex.Hints.Unknown {
		hints = append(hints, u+" (not understood: ignored)")
	}
	list("hints", hints)
	fmt.Fprintf(w, "%-14s %s\n", "parser:", ex.Parser)
	return nil
}

// quoted makes the NUL-free conjunctions readable as they are.
func quoted(cs []string) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = strings.ToValidUTF8(c, "?")
	}
	return out
}
