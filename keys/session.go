package keys

import (
	"strings"

	"github.com/cacheops/cacheops/catalog"
)

// Session is what name resolution depends on besides the catalog.
type Session struct {
	User string
	// SearchPath is the effective list of schemas, "$user" expanded.
	SearchPath []string
	// Temp holds the names of this session's temporary relations: an
	// unqualified name among them means the temporary one, never cached.
	Temp map[string]bool
	// TempSideEffects: temporary relations with triggers or rules; a write
	// to one may change any table.
	TempSideEffects map[string]bool
	// RowSecurityOK reports the tables with row level security that may be
	// cached: their policies read only the role and settings that are part of
	// every entry's namespace.
	RowSecurityOK func(relKey string) bool
	// Selectable returns the columns of rel the session's role may read
	// (a write's hidden RETURNING needs SELECT on them), and false when that
	// cannot be learnt now. Nil: every column.
	Selectable func(rel *catalog.Relation) (map[string]bool, bool)
}

// ParseSearchPath splits a search_path setting ("$user", public) into
// schema names, unquoting them and expanding "$user".
func ParseSearchPath(raw, user string) []string {
	var out []string
	for _, part := range splitIdentList(raw) {
		switch part {
		case "$user":
			out = append(out, user)
		case "":
		default:
			out = append(out, part)
		}
	}
	return out
}

func splitIdentList(raw string) []string {
	var out []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(raw); i++ {
		ch := raw[i]
		switch {
		case ch == '"' && quoted && i+1 < len(raw) && raw[i+1] == '"':
			cur.WriteByte('"')
			i++
		case ch == '"':
			quoted = !quoted
		case ch == ',' && !quoted:
			out = append(out, strings.TrimSpace(cur.String()))
			cur.Reset()
		case !quoted && (ch == ' ' || ch == '\t'):
		case !quoted:
			cur.WriteByte(lower(ch))
		default:
			cur.WriteByte(ch)
		}
	}
	return append(out, strings.TrimSpace(cur.String()))
}

func lower(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
