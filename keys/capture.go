package keys

import (
	"crypto/sha256"
	"database/sql/driver"
	"encoding/hex"
	"fmt"
	"sort"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/cacheops/cacheops/internal/pgparse"

	"github.com/cacheops/cacheops/catalog"
)

// DefaultMaxCapturedRows bounds the rows a write reports per statement by
// default; past it the write invalidates its tables whole.
const DefaultMaxCapturedRows = 1000

// Change is what a write did to one relation, as far as invalidation can tell.
type Change struct {
	Rel string
	// Wide: any row may have changed; the table stamp goes.
	Wide bool
	// Images are the rows touched, each by the canonical values of the
	// columns known; a scheme with a column an image does not know is
	// invalidated whole for it.
	Images []map[string]string
}

// Capture is how a plain INSERT, UPDATE or DELETE reports the rows it
// touches: RETURNING of the columns that can appear in conjunctions,
// appended after the caller's own and hidden from the caller.
type Capture struct {
	SQL   string // the statement with the hidden RETURNING
	Cols  []string
	Kinds []catalog.ValueKind
	// Assigned are the columns an UPDATE (or ON CONFLICT DO UPDATE) sets:
	// RETURNING gives their new values; their old ones are unknown before
	// PostgreSQL 18, so schemes with them are invalidated whole.
	Assigned map[string]bool
	// Targets receive the row images: the table, its partitions and parents.
	Targets []string
	// FKs are children whose rows a DELETE cascades to (or sets to NULL),
	// known by their foreign key's value.
	FKs []FKEffect
	// Wide are relations a cascade changes in ways the capture cannot see.
	Wide []string
}

// FKEffect: rows of Rels whose Col held the deleted parent's RefCol.
type FKEffect struct {
	Rels    []string
	Col     string
	RefCol  string
	SetNull bool
}

// Changes turns the captured values (one []driver.Value per returned row,
// in Cols order) into changes. over: more rows than the capture limit.
func (c *Capture) Changes(rows [][]driver.Value, over bool) []Change {
	if over {
		return c.WideChanges()
	}
	var images []map[string]string
	for _, row := range rows {
		img := make(map[string]string, len(c.Cols))
		for i, col := range c.Cols {
			if v, ok := Canonical(c.Kinds[i], row[i]); ok {
				img[col] = v
			}
		}
		images = append(images, img)
		if len(c.Assigned) > 0 {
			old := make(map[string]string, len(img))
			for col, v := range img {
				if !c.Assigned[col] {
					old[col] = v
				}
			}
			images = append(images, old)
		}
	}
	var out []Change
	for _, rel := range c.Targets {
		out = append(out, Change{Rel: rel, Images: images})
	}
	out = append(out, WideOf(c.Wide)...)
	for _, fk := range c.FKs {
		var child []map[string]string
		wide := false
		for _, img := range images {
			v, ok := img[fk.RefCol]
			if !ok {
				wide = true
				break
			}
			child = append(child, map[string]string{fk.Col: v})
			if fk.SetNull {
				child = append(child, map[string]string{fk.Col: Null})
			}
		}
		for _, rel := range fk.Rels {
			out = append(out, Change{Rel: rel, Wide: wide, Images: child})
		}
	}
	return out
}

// WideChanges is the fallback when the rows could not be captured.
func (c *Capture) WideChanges() []Change {
	var out []Change
	for _, rel := range c.Targets {
		out = append(out, Change{Rel: rel, Wide: true})
	}
	for _, fk := range c.FKs {
		for _, rel := range fk.Rels {
			out = append(out, Change{Rel: rel, Wide: true})
		}
	}
	return append(out, WideOf(c.Wide)...)
}

// WideOf makes whole-relation changes.
func WideOf(rels []string) []Change {
	out := make([]Change, len(rels))
	for i, r := range rels {
		out[i] = Change{Rel: r, Wide: true}
	}
	return out
}

// addReturning appends qual.col for every column to the RETURNING list of the
// only statement in sql and deparses it.
func addReturning(sql, qual string, cols []string) (string, error) {
	tree, err := pgparse.Parse(sql)
	if err != nil || len(tree.Stmts) != 1 {
		return "", fmt.Errorf("keys: cannot rewrite %q", sql)
	}
	var targets []*pg_query.Node
	for _, col := range cols {
		ref := pg_query.MakeColumnRefNode([]*pg_query.Node{pg_query.MakeStrNode(qual), pg_query.MakeStrNode(col)}, -1)
		targets = append(targets, pg_query.MakeResTargetNodeWithVal(ref, -1))
	}
	switch s := tree.Stmts[0].Stmt.Node.(type) {
	case *pg_query.Node_InsertStmt:
		s.InsertStmt.ReturningList = append(s.InsertStmt.ReturningList, targets...)
	case *pg_query.Node_UpdateStmt:
		s.UpdateStmt.ReturningList = append(s.UpdateStmt.ReturningList, targets...)
	case *pg_query.Node_DeleteStmt:
		s.DeleteStmt.ReturningList = append(s.DeleteStmt.ReturningList, targets...)
	default:
		return "", fmt.Errorf("keys: not a plain write: %q", sql)
	}
	return pgparse.Deparse(tree)
}

// planCapture decides how a plain write reports its rows, or returns nil when
// it cannot (the caller then invalidates its tables whole).
func (r *resolver) planCapture(sql string, st *Statement) *Capture {
	if r.cat == nil || st.Target == nil || sql == "" {
		return nil
	}
	rel, temp := r.relation(*st.Target)
	// Row level security applies SELECT policies to RETURNING: a capture
	// could fail a write that PostgreSQL accepts.
	if temp || rel == nil || (rel.Kind != 'r' && rel.Kind != 'p') || rel.RLS {
		return nil
	}
	keyed := false
	for _, kind := range rel.Columns {
		keyed = keyed || kind != catalog.NoKind
	}
	if !keyed {
		return nil // nothing to key rows by: whole tables
	}
	// RETURNING needs SELECT on what it returns: capture only those columns.
	var selectable map[string]bool
	if r.s != nil && r.s.Selectable != nil {
		var known bool
		if selectable, known = r.s.Selectable(rel); !known {
			r.p.Provisional = true
			return nil
		}
	}
	c := &Capture{Assigned: map[string]bool{}}
	for _, a := range st.Assigned {
		c.Assigned[a] = true
	}
	if len(c.Assigned) > 0 {
		// An UPDATE recomputes generated columns it does not assign: their
		// old values are unknown too.
		for col := range rel.Generated {
			c.Assigned[col] = true
		}
	}
	for col, kind := range rel.Columns {
		if kind != catalog.NoKind && (selectable == nil || selectable[col]) {
			c.Cols = append(c.Cols, col)
		}
	}
	sort.Strings(c.Cols)
	for _, col := range c.Cols {
		c.Kinds = append(c.Kinds, rel.Columns[col])
	}
	family := r.cat.Closure([]*catalog.Relation{rel}, func(x *catalog.Relation) []uint32 {
		return append(append([]uint32(nil), x.Parents...), x.Children...)
	})
	for _, f := range family {
		c.Targets = append(c.Targets, f.Key())
	}
	sort.Strings(c.Targets)
	if len(c.Cols) == 0 {
		return nil // nothing to key rows by: whole tables
	}
	var err error
	if c.SQL, err = addReturning(sql, st.TargetAlias, c.Cols); err != nil {
		return nil
	}
	// A digest of the catalog's token makes the text new after a schema
	// change: a prepared capture whose result type changed (ALTER COLUMN …
	// TYPE) would fail where the caller's statement would not. A digest,
	// not the token (kilobytes: a part per schema stamp), which pgx would
	// hash at every execution and, in its exec and simple-protocol modes,
	// send and PostgreSQL parse.
	c.SQL = "/* cacheops " + tokenDigest(r.cat.Token) + " */ " + c.SQL
	wide := map[string]bool{}
	for _, f := range family {
		for _, fk := range f.ForeignKeys {
			eff, whole := r.fkEffect(st, c, fk)
			if eff != nil {
				c.FKs = append(c.FKs, *eff)
			}
			for _, w := range whole {
				wide[w.Key()] = true
			}
		}
	}
	for k := range wide {
		c.Wide = append(c.Wide, k)
	}
	sort.Strings(c.Wide)
	return c
}

// fkEffect says what a write does to the rows of a foreign key's child: an
// effect when they are known by the parent's key, and the relations a
// cascade changes in ways the capture cannot see (invalidated whole).
func (r *resolver) fkEffect(st *Statement, c *Capture, fk catalog.ForeignKey) (*FKEffect, []*catalog.Relation) {
	child := r.cat.Relation(fk.Child)
	if child == nil {
		return nil, nil // not a relation cacheops reads
	}
	family := func(x *catalog.Relation) []uint32 {
		return append(append([]uint32(nil), x.Parents...), x.Children...)
	}
	cascading := func(x *catalog.Relation) []uint32 {
		return append(family(x), x.CascadeChildren...)
	}
	whole := func() []*catalog.Relation { return r.cat.Closure([]*catalog.Relation{child}, cascading) }
	switch st.Op {
	case OpInsert, OpUpdate:
		if st.Op == OpInsert && len(c.Assigned) == 0 {
			return nil, nil // inserts cascade nowhere
		}
		if fk.OnUpdate == 'a' || fk.OnUpdate == 'r' {
			return nil, nil
		}
		for _, col := range fk.RefCols {
			if c.Assigned[col] {
				return nil, whole() // the old key is unknown
			}
		}
		return nil, nil // the referenced key does not change: no cascade
	case OpDelete:
		if fk.OnDelete == 'a' || fk.OnDelete == 'r' {
			return nil, nil
		}
		if fk.OnDelete == 'd' || len(fk.Cols) != 1 || child.Columns[fk.Cols[0]] == catalog.NoKind ||
			!containsCol(c.Cols, fk.RefCols[0]) {
			return nil, whole()
		}
		eff := &FKEffect{Col: fk.Cols[0], RefCol: fk.RefCols[0], SetNull: fk.OnDelete == 'n'}
		fam := r.cat.Closure([]*catalog.Relation{child}, family)
		for _, f := range fam {
			eff.Rels = append(eff.Rels, f.Key())
		}
		sort.Strings(eff.Rels)
		// What the child's own foreign keys cascade to is not known by key.
		var further []*catalog.Relation
		for _, f := range fam {
			for _, o := range f.CascadeChildren {
				if g := r.cat.Relation(o); g != nil {
					further = append(further, r.cat.Closure([]*catalog.Relation{g}, cascading)...)
				}
			}
		}
		return eff, further
	}
	return nil, whole()
}

func containsCol(cols []string, c string) bool {
	for _, x := range cols {
		if x == c {
			return true
		}
	}
	return false
}

// planName is how a relation's columns are qualified in RETURNING.
func planName(rv *pg_query.RangeVar) string {
	if rv.Alias != nil && rv.Alias.Aliasname != "" {
		return rv.Alias.Aliasname
	}
	return rv.Relname
}

// tokenDigest is a short name for a catalog token: 64 bits of its SHA-256.
// Two catalogs a connection meets sharing one would at worst make a write's
// prepared capture be rejected, and the write run as written.
func tokenDigest(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:8])
}
