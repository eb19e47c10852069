package keys

import (
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/cacheops/cacheops/catalog"
)

// RowChanges are the changes a write of some rows of table would report,
// each row known by the values of some of its columns (keyed by column
// name) and nothing else: the table, its partitions and its parents, each
// with one image per row. A scheme over a column a row does not give (or
// gives a value that cannot be keyed) is invalidated whole for it, so every
// entry that may hold the row goes, whatever its other columns held.
// The table's name resolves as in SQL on the session.
func RowChanges(cat *catalog.Catalog, s *Session, table string, rows []map[string]any) ([]Change, error) {
	if cat == nil {
		return nil, fmt.Errorf("cacheops: no catalog to resolve %q", table)
	}
	r := resolver{cat: cat, s: s, p: &Plan{}}
	rel, temp := r.relation(parseQualified(table))
	if temp {
		return nil, nil // temporary tables are never cached
	}
	if rel == nil || (rel.Kind != 'r' && rel.Kind != 'p') {
		return nil, fmt.Errorf("cacheops: unknown table %q", table)
	}
	return RelationRowChanges(cat, rel, rows)
}

// RelationRowChanges is RowChanges for a relation of cat.
func RelationRowChanges(cat *catalog.Catalog, rel *catalog.Relation, rows []map[string]any) ([]Change, error) {
	table := rel.Key()
	images := make([]map[string]string, 0, len(rows))
	for _, row := range rows {
		img := map[string]string{}
		for col, v := range row {
			name := col
			if _, ok := rel.Columns[name]; !ok {
				name = strings.ToLower(col) // as PostgreSQL folds an unquoted name
			}
			kind, ok := rel.Columns[name]
			if !ok {
				return nil, fmt.Errorf("cacheops: table %q has no column %q", table, col)
			}
			if kind == catalog.NoKind {
				continue
			}
			c, ok := Canonical(kind, v)
			if !ok || (rel.MaxLen[name] > 0 && utf8.RuneCountInString(c) > rel.MaxLen[name]) {
				continue // unknown: its schemes go whole
			}
			img[name] = c
		}
		images = append(images, img)
	}
	family := cat.Closure([]*catalog.Relation{rel}, func(x *catalog.Relation) []uint32 {
		return append(append([]uint32(nil), x.Parents...), x.Children...)
	})
	var out []Change
	for _, f := range family {
		out = append(out, Change{Rel: f.Key(), Images: images})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Rel < out[j].Rel })
	return out, nil
}
