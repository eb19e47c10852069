package cacheops_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/cacheops/cacheops"
)

// A stale read found by the torture checker comes with what explains it:
// how the read was served, the writes of the row around it, the
// invalidations and Redis errors during the write it missed, and the
// stores and reads of the same entry.

// tWrite is one committed write of one row, as the checker sees it.
type tWrite struct {
	start, end int64
	row        tRow
	kind       string
	proc       string // the process that made it
}

// howKey carries a read's *string, which the hooks set to how it was served.
type howKey struct{}

// tortureHooks log the steps that explain a stale read.
func tortureHooks(log *tortureLog) cacheops.Hooks {
	served := func(how string) func(ctx context.Context, e cacheops.Event) {
		return func(ctx context.Context, e cacheops.Event) {
			if d, ok := ctx.Value(howKey{}).(*string); ok {
				*d = how + " " + e.Key
				if e.Local {
					*d = "local " + *d
				}
			}
		}
	}
	step := func(kind, what string) func(ctx context.Context, e cacheops.Event) {
		return func(_ context.Context, e cacheops.Event) {
			q := e.Key
			if kind == "i" {
				q = fmt.Sprintf("process %d: %s of %d stamps, error %v", os.Getpid(), what, e.Stamps, e.Err)
			}
			log.add(tEvent{Kind: kind, Query: q, Start: e.Start.UnixNano(), End: time.Now().UnixNano()})
		}
	}
	return cacheops.Hooks{Hit: served("hit"), Miss: served("miss"), Store: step("s", "store"),
		Invalidate: step("i", "invalidation"), RedisError: step("i", "Redis error")}
}

// explainStale describes the history around read rd, which saw an older
// version than ver of a row whose writes are ws.
func explainStale(events []tEvent, ws []tWrite, rd tEvent, ver int) string {
	var b strings.Builder
	rel := func(t int64) string { return time.Duration(t - rd.Start).String() }
	fmt.Fprintf(&b, "\n  the read: %s..%s, %s", rel(rd.Start), rel(rd.End), rd.How)
	for _, w := range ws {
		if w.end > rd.Start-int64(time.Second) && w.start < rd.End {
			fmt.Fprintf(&b, "\n  write %s of version %d (group %d): %s..%s", w.kind, w.row.Ver, w.row.Grp, rel(w.start), rel(w.end))
		}
		if w.row.Ver != ver {
			continue
		}
		for _, e := range events {
			if e.Kind == "i" && e.End >= w.start && e.End <= w.end+int64(time.Millisecond) || e.Kind == "x" {
				fmt.Fprintf(&b, "\n    meanwhile: %s, ended %s", e.Query, rel(e.End))
			}
		}
	}
	key := ""
	if f := strings.Fields(rd.How); len(f) == 2 {
		key = f[1]
	}
	for _, e := range events {
		if key == "" || e.End < rd.Start-int64(time.Second) || e.Start > rd.End {
			continue
		}
		switch {
		case e.Kind == "s" && e.Query == key:
			fmt.Fprintf(&b, "\n  entry stored %s..%s", rel(e.Start), rel(e.End))
		case e.Kind == "r" && strings.HasSuffix(e.How, " "+key):
			fmt.Fprintf(&b, "\n  read %s %s..%s: %s", e.Query, rel(e.Start), rel(e.End), strings.Fields(e.How)[0])
		}
	}
	return b.String()
}
