package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"

	"github.com/cacheops/cacheops"
)

// watchCmd runs the watcher as a sidecar until ctx ends (SIGINT/SIGTERM),
// or removes its slot and publication.
func watchCmd(ctx context.Context, w, stderr io.Writer, db *sql.DB, dsn string, args []string) error {
	fs := flag.NewFlagSet("watch", flag.ContinueOnError)
	fs.SetOutput(stderr)
	slot := fs.String("slot", "cacheops", "replication slot")
	pub := fs.String("publication", "cacheops", "publication (FOR ALL TABLES)")
	uninstall := fs.Bool("uninstall", false, "drop the slot and the publication (a slot nobody reads keeps WAL forever)")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errUsage
	}
	opts := cacheops.WatchOptions{Slot: *slot, Publication: *pub}
	if *uninstall {
		if err := cacheops.UnwatchDatabase(ctx, db, dsn, opts); err != nil {
			return err
		}
		fmt.Fprintf(w, "dropped slot %s and publication %s\n", *slot, *pub)
		return nil
	}
	fmt.Fprintf(w, "watching (slot %s, publication %s); stop with Ctrl-C\n", *slot, *pub)
	return cacheops.Watch(ctx, db, dsn, opts)
}
