package cacheops

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	cdriver "github.com/cacheops/cacheops/driver"
)

// NoCache returns a context whose reads neither use nor fill the cache, as
// the comment /* cacheops:nocache */ does for one statement. Writes made
// with it still invalidate.
func NoCache(ctx context.Context) context.Context {
	return cdriver.WithControl(ctx, func(c *cdriver.Control) { c.NoCache = true })
}

// Refresh returns a context whose reads run their query and store the
// fresh result whatever the cache holds (behind the same stale-fill guard
// as any miss), as /* cacheops:refresh */ does for one statement. Use it
// after a write made outside cacheops, or to warm the cache.
func Refresh(ctx context.Context) context.Context {
	return cdriver.WithControl(ctx, func(c *cdriver.Control) { c.Refresh = true })
}

// WithTTL returns a context whose reads store their entries for ttl
// (rounded up to whole seconds), as /* cacheops:ttl=30s */ does for one
// statement. It wins over Options.TTL and the tables' rules.
func WithTTL(ctx context.Context, ttl time.Duration) context.Context {
	return cdriver.WithControl(ctx, func(c *cdriver.Control) { c.TTL = ttl })
}

// TableRule says whether reads of a table are cached, and for how long
// (Options.Tables).
type TableRule = cdriver.TableRule

// parseTables reads the compact form of table rules the registered driver
// takes from CACHEOPS_TABLES: "pattern=value" separated by commas or
// semicolons, the value "on", "off" or a TTL ("30s", "5m": cached, for
// that long). Example: "*=off,public.posts=on,public.comments=30s".
func parseTables(s string) (map[string]TableRule, error) {
	rules := map[string]TableRule{}
	for _, item := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ';' }) {
		pattern, value, ok := strings.Cut(strings.TrimSpace(item), "=")
		pattern, value = strings.TrimSpace(pattern), strings.TrimSpace(value)
		if !ok || pattern == "" {
			return nil, fmt.Errorf("cacheops: table rule %q: want pattern=on|off|<ttl>", item)
		}
		switch strings.ToLower(value) {
		case "on":
			rules[pattern] = TableRule{Cache: true}
		case "off":
			rules[pattern] = TableRule{}
		default:
			ttl, err := time.ParseDuration(value)
			if err != nil || ttl <= 0 {
				return nil, fmt.Errorf("cacheops: table rule %q: want on, off or a positive duration", item)
			}
			rules[pattern] = TableRule{Cache: true, TTL: ttl}
		}
	}
	return rules, nil
}

// fromEnvironment fills what opts leave unset from the environment:
// CACHEOPS_TTL, CACHEOPS_LOCAL, CACHEOPS_WATCH and CACHEOPS_TABLES.
func fromEnvironment(opts *Options) error {
	if v := os.Getenv("CACHEOPS_TTL"); opts.TTL == 0 && v != "" {
		ttl, err := time.ParseDuration(v)
		if err != nil || ttl <= 0 {
			return fmt.Errorf("cacheops: CACHEOPS_TTL=%q: want a positive duration", v)
		}
		opts.TTL = ttl
	}
	if v := os.Getenv("CACHEOPS_LOCAL"); opts.Local.MaxStaleness == 0 && v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("cacheops: CACHEOPS_LOCAL=%q: want a duration (the local layer's MaxStaleness), 0 for off", v)
		}
		opts.Local.MaxStaleness = d
	}
	if v := os.Getenv("CACHEOPS_WATCH"); opts.Watch == nil && v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("cacheops: CACHEOPS_WATCH=%q: want 1 or 0", v)
		}
		if on {
			opts.Watch = &WatchOptions{}
		}
	}
	if v := os.Getenv("CACHEOPS_TABLES"); opts.Tables == nil && v != "" {
		rules, err := parseTables(v)
		if err != nil {
			return fmt.Errorf("CACHEOPS_TABLES: %w", err)
		}
		opts.Tables = rules
	}
	return nil
}
