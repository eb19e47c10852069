package keys

import (
	"strings"
	"time"
	"unicode"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/cacheops/cacheops/internal/pgparse"
)

// HintPrefix starts a comment that steers the cache for one statement:
// /* cacheops:nocache */, /* cacheops:ttl=30s */, /* cacheops:refresh */
// (several, comma-separated: /* cacheops:ttl=5m,refresh */), or the same
// after "--".
const HintPrefix = "cacheops:"

// Hints are the cache directives a statement's comments carry.
type Hints struct {
	// NoCache: the read neither uses nor fills the cache.
	NoCache bool
	// Refresh: the read runs the query and stores its result whatever the
	// cache holds.
	Refresh bool
	// TTL of the entry a read stores; zero: the configured TTL.
	TTL time.Duration
	// KeyText is the text without its hint comments, for entry keys (so
	// that /* cacheops:refresh */ SELECT … refreshes the entry of SELECT …);
	// empty when the text has none.
	KeyText string
	// Unknown are directives that were not understood (ignored).
	Unknown []string
}

// hintsOf reads the hint comments of sql. Only comments count (the
// scanner tells them from string literals that look like one), and the
// text is scanned only when it mentions the prefix at all.
func hintsOf(sql string) Hints {
	var h Hints
	if !strings.Contains(sql, HintPrefix) {
		return h
	}
	res, err := pgparse.Scan(sql)
	if err != nil {
		return h
	}
	var cuts [][2]int
	for _, t := range res.Tokens {
		if t.Token != pg_query.Token_C_COMMENT && t.Token != pg_query.Token_SQL_COMMENT {
			continue
		}
		start, end := int(t.Start), int(t.End)
		if start < 0 || end > len(sql) || start >= end {
			continue
		}
		body := sql[start:end]
		if t.Token == pg_query.Token_C_COMMENT {
			body = strings.TrimSuffix(strings.TrimPrefix(body, "/*"), "*/")
		} else {
			body = strings.TrimPrefix(body, "--")
		}
		body, ok := strings.CutPrefix(strings.TrimSpace(body), HintPrefix)
		if !ok {
			continue
		}
		h.apply(body)
		cuts = append(cuts, [2]int{start, end})
	}
	if len(cuts) > 0 {
		h.KeyText = withoutComments(sql, cuts)
	}
	return h
}

// apply reads one comment's directives.
func (h *Hints) apply(body string) {
	for _, d := range strings.FieldsFunc(body, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		name, value, _ := strings.Cut(d, "=")
		switch strings.ToLower(name) {
		case "nocache":
			h.NoCache = true
		case "refresh":
			h.Refresh = true
		case "ttl":
			if ttl, err := time.ParseDuration(value); err == nil && ttl > 0 {
				h.TTL = ttl
				continue
			}
			h.Unknown = append(h.Unknown, d)
		default:
			h.Unknown = append(h.Unknown, d)
		}
	}
}

// withoutComments cuts the comments at cuts (in order) from sql with the
// white space around each; where text remains on both sides, one space
// separates it (a comment separates tokens as a space does).
func withoutComments(sql string, cuts [][2]int) string {
	var parts []string
	pos := 0
	for _, c := range append(cuts, [2]int{len(sql), len(sql)}) {
		seg := sql[pos:c[0]]
		if pos > 0 {
			seg = strings.TrimLeftFunc(seg, unicode.IsSpace)
		}
		if c[0] < len(sql) {
			seg = strings.TrimRightFunc(seg, unicode.IsSpace)
		}
		if seg != "" {
			parts = append(parts, seg)
		}
		pos = c[1]
	}
	return strings.Join(parts, " ")
}
