package driver

import (
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// TableRule says whether reads of a table are cached, and for how long.
type TableRule struct {
	// Cache: reads of the table use the cache. A read of several tables is
	// cached only if every one of them is.
	Cache bool
	// TTL of the entries of reads of the table (with Cache); zero: the
	// cache's. A read of several tables takes the smallest.
	TTL time.Duration
}

// Specificity of a table pattern: the most specific one naming a table
// decides for it.
const (
	matchAll    = iota + 1 // "*"
	matchSchema            // "schema.*"
	matchName              // "table", in any schema
	matchExact             // "schema.table"
)

// patternMatches reports how specifically a pattern names a relation key
// ("schema"."name"), 0 for not at all.
func patternMatches(key, pattern string) int {
	switch schema, table, qualified := strings.Cut(pattern, "."); {
	case pattern == "*":
		return matchAll
	case qualified && table == "*":
		if strings.HasPrefix(key, pgx.Identifier{schema}.Sanitize()+".") {
			return matchSchema
		}
	case tableMatches(key, pattern):
		if qualified {
			return matchExact
		}
		return matchName
	}
	return 0
}

// ruleFor returns the most specific rule naming a relation; ok false: none
// does (the relation is cached with the cache's TTL). Two patterns of one
// specificity cannot both name a relation.
func ruleFor(rules map[string]TableRule, key string) (rule TableRule, ok bool) {
	best := 0
	for pattern, r := range rules {
		if m := patternMatches(key, pattern); m > best {
			best, rule, ok = m, r, true
		}
	}
	return rule, ok
}

// applyRules sets what the table rules say of a plan's reads.
func (p *plan) applyRules(rules map[string]TableRule) { p.applyRulesTo(p.Deps, rules) }

func (p *plan) applyRulesTo(deps []string, rules map[string]TableRule) {
	for _, rel := range deps {
		r, ok := ruleFor(rules, rel)
		switch {
		case !ok:
		case !r.Cache:
			p.tablesOff = true
		case r.TTL > 0 && (p.tablesTTL == 0 || r.TTL < p.tablesTTL):
			p.tablesTTL = r.TTL
		}
	}
}
