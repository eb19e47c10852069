package keys

import (
	"database/sql/driver"
	"unicode/utf8"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/cacheops/cacheops/catalog"
)

// WriteSpec is what the SQL of one INSERT, UPDATE or DELETE says about the
// rows it touches, for writes whose rows cannot be captured (inside a WITH
// query): the WHERE of an UPDATE or DELETE holds for every old row, SET
// gives the new values of the columns it assigns, VALUES the inserted rows.
type WriteSpec struct {
	Op     WriteOp
	Target RelRef
	// Scope holds the target (first occurrence), the FROM/USING relations
	// and the WHERE clause as its Inner DNF.
	Scope Scope
	// Set are an UPDATE's (or ON CONFLICT DO UPDATE's) assignments; Atom.Col
	// names the column; an assignment of anything but a constant or a
	// parameter has Unknown set.
	Set []SetSpec
	// Rows are an INSERT's VALUES rows, column by column (same as Set).
	Rows [][]SetSpec
	// AnyRow: an INSERT … SELECT or DEFAULT VALUES: the rows are unknown.
	AnyRow bool
}

// SetSpec is one column given a value.
type SetSpec struct {
	Col     string
	Val     Atom
	Unknown bool
}

func writeSpec(n *pg_query.Node, maxIn int) *WriteSpec {
	b := dnfBuilder{maxIn: maxIn}
	occ := func(rv *pg_query.RangeVar) Occurrence {
		return Occurrence{Rel: relRef(rv), Alias: planName(rv)}
	}
	// filtered describes an UPDATE or DELETE: its target, restricted by
	// WHERE; columns that may come from FROM/USING are left unresolved.
	filtered := func(op WriteOp, rv *pg_query.RangeVar, where *pg_query.Node, joined bool) *WriteSpec {
		w := &WriteSpec{Op: op, Target: relRef(rv), Scope: Scope{Occs: []Occurrence{occ(rv)}, Derived: joined, Inner: trueDNF}}
		if where != nil {
			w.Scope.Inner = b.dnf(where)
		}
		return w
	}
	switch s := n.Node.(type) {
	case *pg_query.Node_UpdateStmt:
		u := s.UpdateStmt
		w := filtered(OpUpdate, u.Relation, u.WhereClause, len(u.FromClause) > 0)
		w.Set = setSpecs(u.TargetList)
		return w
	case *pg_query.Node_DeleteStmt:
		d := s.DeleteStmt
		return filtered(OpDelete, d.Relation, d.WhereClause, len(d.UsingClause) > 0)
	case *pg_query.Node_InsertStmt:
		in := s.InsertStmt
		w := &WriteSpec{Op: OpInsert, Target: relRef(in.Relation), Scope: Scope{Occs: []Occurrence{occ(in.Relation)}, Inner: trueDNF}}
		sel := in.SelectStmt.GetSelectStmt()
		if sel == nil || len(sel.ValuesLists) == 0 || len(in.Cols) == 0 {
			w.AnyRow = true
		} else {
			for _, vl := range sel.ValuesLists {
				items := vl.GetList().GetItems()
				var row []SetSpec
				for i, c := range in.Cols {
					name := c.GetResTarget().GetName()
					if i >= len(items) {
						break
					}
					a, ok := valueAtom(ColRef{Name: name}, items[i])
					row = append(row, SetSpec{Col: name, Val: a, Unknown: !ok})
				}
				w.Rows = append(w.Rows, row)
			}
		}
		if oc := in.OnConflictClause; oc != nil && oc.Action == pg_query.OnConflictAction_ONCONFLICT_UPDATE {
			w.Set = setSpecs(oc.TargetList) // the rows it updates are unknown
			w.AnyRow = true
		}
		return w
	}
	return nil
}

func setSpecs(targets []*pg_query.Node) []SetSpec {
	var out []SetSpec
	for _, t := range targets {
		rt := t.GetResTarget()
		if rt == nil {
			continue
		}
		a, ok := valueAtom(ColRef{Name: rt.Name}, rt.Val)
		out = append(out, SetSpec{Col: rt.Name, Val: a, Unknown: !ok})
	}
	return out
}

// PredicateWrite is a resolved WriteSpec: conjunction templates describing
// the old and new rows, instantiated with the call's arguments into row
// images, as captured rows would be.
type PredicateWrite struct {
	Targets []string // the table, its partitions and parents
	Images  []Conj   // Rel unused: one template per image
	// Wide are relations invalidated whole (cascades).
	Wide []string
}

// Changes instantiates the images with the call's arguments.
func (w *PredicateWrite) Changes(args []driver.NamedValue) []Change {
	var imgs []map[string]string
	for _, in := range Instantiate(w.Images, args, 1<<20) {
		img := map[string]string{}
		for i, col := range SchemeColumns(in.Scheme) {
			img[col] = in.Values[i]
		}
		imgs = append(imgs, img)
	}
	out := WideOf(w.Wide)
	for _, t := range w.Targets {
		out = append(out, Change{Rel: t, Images: imgs})
	}
	return out
}

// planPredicateWrite resolves the write specs of a statement, or returns nil
// when any of them cannot be (the caller then invalidates whole).
func (r *resolver) planPredicateWrite(specs []*WriteSpec) *PredicateWrite {
	if r.cat == nil || len(specs) == 0 {
		return nil
	}
	pw := &PredicateWrite{}
	wide := map[string]bool{}
	for _, w := range specs {
		if w == nil {
			return nil
		}
		rel, temp := r.relation(w.Target)
		if temp {
			continue
		}
		if rel == nil || (rel.Kind != 'r' && rel.Kind != 'p') || rel.SideEffects {
			return nil
		}
		family := r.cat.Closure([]*catalog.Relation{rel}, func(x *catalog.Relation) []uint32 {
			return append(append([]uint32(nil), x.Parents...), x.Children...)
		})
		for _, f := range family {
			pw.Targets = append(pw.Targets, f.Key())
			// Cascades are not followed by key here: children go whole.
			if w.Op != OpInsert || len(w.Set) > 0 {
				for _, o := range f.CascadeChildren {
					if ch := r.cat.Relation(o); ch != nil {
						for _, x := range r.cat.Closure([]*catalog.Relation{ch}, func(x *catalog.Relation) []uint32 {
							return append(append(append([]uint32(nil), x.Parents...), x.Children...), x.CascadeChildren...)
						}) {
							if x.SideEffects {
								return nil
							}
							wide[x.Key()] = true
						}
					}
				}
			}
		}
		pw.Images = append(pw.Images, r.images(w, rel)...)
	}
	for k := range wide {
		pw.Wide = append(pw.Wide, k)
	}
	return pw
}

// images builds the image templates of one write on rel.
func (r *resolver) images(w *WriteSpec, rel *catalog.Relation) []Conj {
	set := func(specs []SetSpec) ([]Term, map[string]bool) {
		var terms []Term
		assigned := map[string]bool{}
		for _, s := range specs {
			assigned[s.Col] = true
			kind := rel.Columns[s.Col]
			if s.Unknown || kind == catalog.NoKind {
				continue
			}
			if t, ok := term(s.Col, kind, s.Val, false); ok {
				// varchar(n) trims the trailing spaces of a longer value.
				t.MaxLen = rel.MaxLen[s.Col]
				if t.Param == 0 && t.MaxLen > 0 && utf8.RuneCountInString(t.Value) > t.MaxLen {
					continue
				}
				terms = append(terms, t)
			}
		}
		if len(specs) > 0 {
			for col := range rel.Generated {
				assigned[col] = true // recomputed: the old value is unknown
			}
		}
		return terms, assigned
	}
	var out []Conj
	switch w.Op {
	case OpInsert:
		for _, row := range w.Rows {
			terms, _ := set(row)
			out = append(out, Conj{Terms: terms})
		}
		if w.AnyRow {
			out = append(out, Conj{})
		}
	case OpUpdate, OpDelete:
		rels := []*catalog.Relation{rel}
		newTerms, assigned := set(w.Set)
		for _, disjunct := range w.Scope.Inner {
			old, ok := termsFor(&w.Scope, rels, 0, disjunct)
			if !ok {
				continue // matches no row
			}
			out = append(out, Conj{Terms: old})
			if w.Op == OpUpdate {
				nt := append([]Term(nil), newTerms...)
				for _, t := range old {
					if !assigned[t.Col] {
						nt = append(nt, t)
					}
				}
				out = append(out, Conj{Terms: nt})
			}
		}
	}
	return out
}
