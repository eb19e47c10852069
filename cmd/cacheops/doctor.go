package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops"
	"github.com/cacheops/cacheops/internal/pgparse"
)

// doctor reports what would stop caching, one line per check: "ok",
// "warn" (caching works, with a caveat) or "FAIL". It returns whether
// anything failed.
func doctor(ctx context.Context, w io.Writer, c *cacheops.Cache, dsn string) (failed bool) {
	report := func(level, format string, args ...any) {
		fmt.Fprintf(w, "%-5s %s\n", level, fmt.Sprintf(format, args...))
		if level == "FAIL" {
			failed = true
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	report("ok", "cacheops %s, parser: %s", cacheops.Version, pgparse.Engine)
	doctorRedis(ctx, report, c)
	if dsn == "" {
		report("FAIL", "no database: give --dsn, or set CACHEOPS_DATABASE or DATABASE_URL")
		return failed
	}
	db, err := c.OpenDB(dsn)
	if err != nil {
		report("FAIL", "database URL: %v", err)
		return failed
	}
	defer db.Close()
	doctorPostgres(ctx, report, db)
	doctorRoundTrip(ctx, report, c, db)
	return failed
}

func doctorRedis(ctx context.Context, report func(string, string, ...any), c *cacheops.Cache) {
	if err := c.Ping(ctx); err != nil {
		report("FAIL", "Redis (CACHEOPS_REDIS): %v", err)
		return
	}
	rdb := c.Redis()
	info, err := rdb.Info(ctx, "server").Result()
	version := field(info, "redis_version")
	if err != nil || version == "" {
		report("warn", "Redis answers but INFO does not (%v): a managed service or an ACL without +info", err)
	} else {
		report("ok", "Redis %s (%s mode), prefix %q", version, field(info, "redis_mode"), c.Prefix())
	}
	if cc, ok := rdb.(*redis.ClusterClient); ok {
		ci, err := cc.ClusterInfo(ctx).Result()
		switch {
		case err != nil:
			report("FAIL", "CLUSTER INFO: %v", err)
		case field(ci, "cluster_state") != "ok":
			report("FAIL", "the cluster's state is %q: keys of uncovered slots cannot be cached or invalidated", field(ci, "cluster_state"))
		default:
			masters := 0
			_ = cc.ForEachMaster(ctx, func(context.Context, *redis.Client) error { masters++; return nil })
			report("ok", "cluster: %s slots covered, %d masters; each table's keys share a slot, tables spread over them", field(ci, "cluster_slots_ok"), masters)
		}
	}
	cfg, err := rdb.ConfigGet(ctx, "maxmemory*").Result()
	if err != nil {
		report("warn", "CONFIG GET is refused (%v): cannot check the eviction policy", err)
		return
	}
	switch policy := cfg["maxmemory-policy"]; {
	case cfg["maxmemory"] == "0" || cfg["maxmemory"] == "":
		report("warn", "maxmemory is not set: entries expire with their TTL, but Redis may grow until the machine runs out")
	case policy == "noeviction":
		report("warn", "maxmemory-policy noeviction: when Redis is full new entries are refused (reads still correct, fewer hits); volatile-lru or allkeys-lru evicts instead")
	default:
		report("ok", "maxmemory %s, policy %s: a lost stamp or schemes set only costs hits", cfg["maxmemory"], policy)
	}
}

func doctorPostgres(ctx context.Context, report func(string, string, ...any), db *sql.DB) {
	var version, user, isolation string
	err := db.QueryRowContext(ctx, "SELECT current_setting('server_version'), current_user, current_setting('default_transaction_isolation')").Scan(&version, &user, &isolation)
	if err != nil {
		report("FAIL", "PostgreSQL: %v", err)
		return
	}
	report("ok", "PostgreSQL %s as %s", version, user)
	if isolation == "repeatable read" || isolation == "serializable" {
		report("FAIL", "default_transaction_isolation is %s: no read is cached (each transaction must see its own snapshot); set it per transaction instead", isolation)
	}
	var rls []string
	rows, err := db.QueryContext(ctx, `SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relrowsecurity AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1 LIMIT 20`)
	if err == nil {
		for rows.Next() {
			var t string
			if rows.Scan(&t) == nil {
				rls = append(rls, t)
			}
		}
		rows.Close()
	}
	if len(rls) > 0 {
		report("warn", "row level security on %s: never cached unless Options.RowSecurity names them with the settings their policies read", strings.Join(rls, ", "))
	}
	var walLevel string
	if db.QueryRowContext(ctx, "SELECT current_setting('wal_level')").Scan(&walLevel) == nil && walLevel != "logical" {
		report("ok", "wal_level %s: writes made outside cacheops need InvalidateTables (or `cacheops invalidate`) to be seen", walLevel)
	}
}

// doctorRoundTrip reads a probe twice through the cache: the second read
// must be a hit.
func doctorRoundTrip(ctx context.Context, report func(string, string, ...any), c *cacheops.Cache, db *sql.DB) {
	probe := fmt.Sprintf("SELECT 'cacheops doctor', %d::bigint WHERE $1::int = 1", time.Now().UnixNano())
	before := c.Stats()
	for i := 0; i < 2; i++ {
		var s string
		var n int64
		if err := db.QueryRowContext(ctx, probe, 1).Scan(&s, &n); err != nil {
			report("FAIL", "a probe query: %v", err)
			return
		}
	}
	after := c.Stats()
	if after.Hits != before.Hits+1 {
		report("FAIL", "a probe read twice was not a hit the second time (stats: %+v)", after)
		return
	}
	report("ok", "a probe read twice: a miss, stored, then a hit")
}

// field reads "name:value" from an INFO-style reply.
func field(info, name string) string {
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}
