package keys

import (
	"fmt"
	"sort"

	"github.com/cacheops/cacheops/catalog"
)

// conjunctions derives the conjunction templates of a read: for every
// relation, the rows it can depend on. Relations read through a view, WITH
// queries shadowing a table, and anything not restricted by a predicate the
// analysis understands depend on any row.
func (r *resolver) conjunctions(st *Statement, direct []*catalog.Relation) []Conj {
	var out []Conj
	seen := map[string]bool{}
	add := func(c Conj) {
		k := fmt.Sprintf("%q %+v", c.Rel, c.Terms)
		if !seen[k] {
			seen[k] = true
			out = append(out, c)
		}
	}
	covered := map[string]bool{}
	for i := range st.Scopes {
		sc := &st.Scopes[i]
		rels := make([]*catalog.Relation, len(sc.Occs))
		for j, o := range sc.Occs {
			rel, _ := r.relation(o.Rel)
			if o.CTE {
				if rel != nil {
					add(Conj{Rel: rel.Key()}) // the table read inside its own WITH query
				}
				continue
			}
			rels[j] = rel
		}
		for j, o := range sc.Occs {
			rel := rels[j]
			if rel == nil || rel.Kind == 'v' {
				continue
			}
			covered[rel.Key()] = true
			d := sc.Inner
			if o.Nullable {
				d = sc.Outer
			}
			for _, disjunct := range d {
				if terms, ok := termsFor(sc, rels, j, disjunct); ok {
					add(Conj{Rel: rel.Key(), Terms: terms})
				}
			}
		}
	}
	viewBases := func(rel *catalog.Relation) []uint32 {
		if rel.Kind == 'v' {
			return rel.ViewBases
		}
		return nil
	}
	for _, rel := range direct {
		if rel.Kind == 'v' {
			for _, b := range r.cat.Closure([]*catalog.Relation{rel}, viewBases) {
				add(Conj{Rel: b.Key()})
			}
		} else if !covered[rel.Key()] {
			add(Conj{Rel: rel.Key()})
		}
	}
	return pruneAnyRow(out)
}

// pruneAnyRow drops a relation's other conjunctions when it has an any-row
// one: that one is invalidated by every write to the relation anyway.
func pruneAnyRow(conjs []Conj) []Conj {
	anyRow := map[string]bool{}
	for _, c := range conjs {
		if len(c.Terms) == 0 {
			anyRow[c.Rel] = true
		}
	}
	out := conjs[:0]
	for _, c := range conjs {
		if len(c.Terms) == 0 || !anyRow[c.Rel] {
			out = append(out, c)
		}
	}
	return out
}

type colKey struct {
	occ int
	col string
}

// termsFor reads one disjunct as the terms it puts on occurrence j: values
// given to its columns directly or through join equalities. ok is false when
// the disjunct asks a column for two different constants: it matches no row.
func termsFor(sc *Scope, rels []*catalog.Relation, j int, disjunct []Atom) ([]Term, bool) {
	parent := map[colKey]colKey{}
	var find func(k colKey) colKey
	find = func(k colKey) colKey {
		p, ok := parent[k]
		if !ok || p == k {
			return k
		}
		root := find(p)
		parent[k] = root
		return root
	}
	values := map[colKey][]Atom{}
	for _, a := range disjunct {
		k, ok := resolveCol(sc, rels, a.Col)
		if !ok {
			continue
		}
		if a.Other != nil {
			// Values travel across a join only between columns that
			// compare alike (same type family and collation): citext =
			// text matches case-insensitively on one side only.
			if k2, ok := resolveCol(sc, rels, *a.Other); ok && sameClass(rels, k, k2) {
				parent[find(k)] = find(k2)
			}
			continue
		}
		values[k] = append(values[k], a)
	}
	byRoot := map[colKey][]Atom{}
	for k, as := range values {
		byRoot[find(k)] = append(byRoot[find(k)], as...)
	}
	rel := rels[j]
	var terms []Term
	for col, kind := range rel.Columns {
		if kind == catalog.NoKind {
			continue
		}
		lits := map[string]bool{}
		for _, a := range byRoot[find(colKey{j, col})] {
			t, ok := term(col, kind, a, sc.Occs[j].Nullable)
			if !ok {
				continue
			}
			if t.Param == 0 {
				lits[t.Value] = true
			}
			terms = append(terms, t)
		}
		if len(lits) > 1 {
			return nil, false
		}
	}
	sort.Slice(terms, func(a, b int) bool {
		if terms[a].Col != terms[b].Col {
			return terms[a].Col < terms[b].Col
		}
		return terms[a].Param < terms[b].Param
	})
	return terms, true
}

func sameClass(rels []*catalog.Relation, a, b colKey) bool {
	ca, cb := rels[a.occ].Classes[a.col], rels[b.occ].Classes[b.col]
	return ca != "" && ca == cb
}

// resolveCol finds the occurrence a column reference names in its scope.
// Outer references, ambiguous names and columns that may come from a
// subquery are not resolved: their terms are dropped.
func resolveCol(sc *Scope, rels []*catalog.Relation, c ColRef) (colKey, bool) {
	found := -1
	for j, o := range sc.Occs {
		if c.Qual != "" {
			if o.Alias != c.Qual || (c.Schema != "" && o.Rel.Schema != c.Schema) {
				continue
			}
		} else if sc.Derived || rels[j] == nil {
			if sc.Derived {
				return colKey{}, false
			}
			continue
		} else if _, has := column(o, rels[j], c.Name); !has {
			continue
		}
		if found >= 0 {
			return colKey{}, false
		}
		found = j
	}
	if found < 0 || rels[found] == nil {
		return colKey{}, false
	}
	real, has := column(sc.Occs[found], rels[found], c.Name)
	if !has {
		return colKey{}, false
	}
	return colKey{found, real}, true
}

// column maps a name as the query sees it to the relation's column: a column
// alias list renames the first columns, whose own names are then hidden.
func column(o Occurrence, rel *catalog.Relation, name string) (string, bool) {
	if len(o.ColAliases) > 0 {
		if len(rel.Order) < len(o.ColAliases) {
			return "", false
		}
		for i, a := range o.ColAliases {
			if a == name {
				return rel.Order[i], true
			}
		}
		for _, renamed := range rel.Order[:len(o.ColAliases)] {
			if renamed == name {
				return "", false
			}
		}
	}
	_, has := rel.Columns[name]
	return name, has
}

// castsFor lists the casts that keep a value's meaning for a column kind.
var castsFor = map[catalog.ValueKind]map[string]bool{
	catalog.IntKind:  {"int2": true, "int4": true, "int8": true, "integer": true, "smallint": true, "bigint": true, "pg_catalog.int2": true, "pg_catalog.int4": true, "pg_catalog.int8": true},
	catalog.BoolKind: {"bool": true, "boolean": true, "pg_catalog.bool": true},
	catalog.TextKind: {"text": true, "varchar": true, "pg_catalog.varchar": true, "pg_catalog.text": true},
	catalog.UUIDKind: {"uuid": true, "pg_catalog.uuid": true},
}

func term(col string, kind catalog.ValueKind, a Atom, nullable bool) (Term, bool) {
	if a.Cast != "" && !castsFor[kind][a.Cast] {
		return Term{}, false
	}
	t := Term{Col: col, Kind: kind}
	switch a.Kind {
	case ValNull:
		if nullable {
			return Term{}, false // IS NULL also matches the rows an outer join makes up
		}
		t.Value = Null
	case ValLiteral:
		v, ok := Canonical(kind, a.Lit)
		if !ok || v == Null {
			return Term{}, false
		}
		t.Value = v
	case ValParam:
		t.Param = a.Param
	case ValAnyParam:
		t.Param, t.Any = a.Param, true
	}
	return t, true
}
