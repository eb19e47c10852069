package keys

import (
	"fmt"
	"strings"

	"github.com/cacheops/cacheops/catalog"
)

// ResolveTables resolves table names as a user writes them ("table" through
// search_path, "schema.table"; double quotes keep case) to the relation keys
// a write to them invalidates, partitions, parents and cascades included.
func ResolveTables(cat *catalog.Catalog, s *Session, names []string) ([]string, error) {
	if cat == nil {
		return nil, fmt.Errorf("cacheops: no catalog to resolve %v", names)
	}
	r := resolver{cat: cat, s: s, p: &Plan{}}
	st := Statement{Kind: KindWrite}
	for _, n := range names {
		ref := parseQualified(n)
		if rel, _ := r.relation(ref); rel == nil {
			return nil, fmt.Errorf("cacheops: unknown table %q", n)
		}
		st.Writes = append(st.Writes, ref)
	}
	step := r.step(&st)
	if step.Global {
		return nil, nil // triggers or rules: the caller invalidates everything
	}
	return step.Relations(), nil
}

func parseQualified(n string) RelRef {
	parts := splitIdent(n)
	if len(parts) == 2 {
		return RelRef{Schema: parts[0], Name: parts[1]}
	}
	return RelRef{Name: parts[len(parts)-1]}
}

// splitIdent splits a possibly qualified name on dots outside quotes,
// folding unquoted parts to lower case as PostgreSQL does.
func splitIdent(n string) []string {
	var parts []string
	var cur strings.Builder
	quoted := false
	for i := 0; i < len(n); i++ {
		switch c := n[i]; {
		case c == '"' && quoted && i+1 < len(n) && n[i+1] == '"':
			cur.WriteByte('"')
			i++
		case c == '"':
			quoted = !quoted
		case c == '.' && !quoted:
			parts = append(parts, cur.String())
			cur.Reset()
		case !quoted:
			cur.WriteByte(lower(c))
		default:
			cur.WriteByte(c)
		}
	}
	return append(parts, cur.String())
}
