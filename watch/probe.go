package watch

import (
	"context"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	cdriver "github.com/cacheops/cacheops/driver"
)

// probePrefix names the logical messages that measure the watcher's lag.
const probePrefix = "cacheops.probe"

// probe commits, every interval, a logical message carrying the time of
// the Redis that holds the heartbeat, on a plain connection of its own (the
// replication connection is streaming). Its commit is durable at once
// (synchronous_commit on), so the walsender decodes it without waiting for
// the WAL writer. Any transaction visible before the clock was read
// committed earlier, so it comes earlier in the stream: when the watcher
// reaches the message with nothing kept, everything committed before that
// time is invalidated. A failing probe only lets the heartbeat age, and
// readers stop taking hits: never a stale read.
func probe(ctx context.Context, cfg *pgconn.Config, target *cdriver.WatchTarget, every time.Duration) {
	pcfg := cfg.Copy()
	delete(pcfg.RuntimeParams, "replication")
	pcfg.RuntimeParams["synchronous_commit"] = "on"
	pcfg.RuntimeParams["application_name"] = "cacheops watch probe"
	var conn *pgconn.PgConn
	defer func() {
		if conn != nil {
			conn.Close(context.Background())
		}
	}()
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if conn == nil {
			c, err := pgconn.ConnectConfig(ctx, pcfg)
			if err != nil {
				continue
			}
			conn = c
		}
		now, err := target.Clock(ctx)
		if err != nil {
			continue
		}
		sql := "SELECT pg_logical_emit_message(true, '" + probePrefix + "', '" + strconv.FormatInt(now, 10) + "')"
		if _, err := conn.Exec(ctx, sql).ReadAll(); err != nil {
			conn.Close(context.Background())
			conn = nil
		}
	}
}
