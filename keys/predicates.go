package keys

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// DefaultMaxInList is the longest IN (…) list or ANY($n) array kept as
// terms by default; a longer one is dropped, which makes the conjunction
// broader and stays correct.
const DefaultMaxInList = 16

// maxDisjuncts bounds a scope's DNF.
const maxDisjuncts = 64

// Scope is one SELECT's FROM clause with the predicates that restrict it.
type Scope struct {
	Occs []Occurrence
	// Derived: FROM also holds a subquery, a function or a WITH query, so
	// an unqualified column may come from it and is left unresolved.
	Derived bool
	// Inner is the DNF of WHERE and the ON conditions of inner joins; Outer
	// adds the ON conditions of outer joins. A relation on the preserved side
	// of an outer join is restricted by Inner only; one on the nullable side
	// by Outer, without IS NULL terms. Each is a list of disjuncts; a
	// disjunct is a list of atoms; [[]] is TRUE.
	Inner, Outer [][]Atom
}

// Occurrence is one relation named in a FROM clause.
type Occurrence struct {
	Rel      RelRef
	Alias    string
	Nullable bool
	// CTE: the name is a WITH query of the statement (it may also be a table,
	// inside the WITH query's own body: such a table is read whole).
	CTE bool
	// ColAliases rename the relation's first columns (FROM t AS x(a, b)).
	ColAliases []string
}

// ColRef is a column as written: Qual is the relation or alias ("" when
// unqualified), Schema the schema when written.
type ColRef struct {
	Schema, Qual, Name string
}

// ValKind says what a term compares a column with.
type ValKind uint8

const (
	ValLiteral  ValKind = iota // a constant in the SQL
	ValParam                   // $n
	ValAnyParam                // = ANY($n): each element of an array argument
	ValNull                    // IS NULL
)

// Atom is one column = value (or column = column) term.
type Atom struct {
	Col   ColRef
	Other *ColRef // set for a join equality
	Kind  ValKind
	Lit   any // ValLiteral: int64, string, NumericLiteral or bool
	Param int // ValParam, ValAnyParam: 1-based
	// Cast is the type an explicit cast of the value names, lower case.
	Cast string
}

func scopes(root *pg_query.Node, ctes []string, maxIn int) []Scope {
	var out []Scope
	var walk func(m protoreflect.Message)
	walk = func(m protoreflect.Message) {
		if sel, ok := m.Interface().(*pg_query.SelectStmt); ok && len(sel.FromClause) > 0 {
			out = append(out, selectScope(sel, ctes, maxIn))
		}
		m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
			switch {
			case fd.IsList() && fd.Message() != nil:
				l := v.List()
				for i := 0; i < l.Len(); i++ {
					walk(l.Get(i).Message())
				}
			case fd.Message() != nil && !fd.IsMap():
				walk(v.Message())
			}
			return true
		})
	}
	walk(root.ProtoReflect())
	return out
}

func selectScope(sel *pg_query.SelectStmt, ctes []string, maxIn int) Scope {
	var sc Scope
	d := dnfBuilder{maxIn: maxIn}
	var inner, outer []*pg_query.Node
	if sel.WhereClause != nil {
		inner = append(inner, sel.WhereClause)
	}
	var from func(n *pg_query.Node, nullable bool)
	from = func(n *pg_query.Node, nullable bool) {
		switch x := n.Node.(type) {
		case *pg_query.Node_RangeVar:
			rv := x.RangeVar
			o := Occurrence{Rel: relRef(rv), Alias: rv.Relname, Nullable: nullable}
			if rv.Alias != nil {
				o.Alias = rv.Alias.Aliasname
				for _, c := range rv.Alias.Colnames {
					o.ColAliases = append(o.ColAliases, c.GetString_().GetSval())
				}
			}
			o.CTE = rv.Schemaname == "" && contains(ctes, rv.Relname)
			if o.CTE {
				sc.Derived = true
			}
			sc.Occs = append(sc.Occs, o)
		case *pg_query.Node_JoinExpr:
			j := x.JoinExpr
			if j.Alias != nil || j.JoinUsingAlias != nil {
				// The join's own names hide its relations': unqualified
				// columns are the join's, in its order.
				sc.Derived = true
			}
			left, right := nullable, nullable
			switch j.Jointype {
			case pg_query.JoinType_JOIN_LEFT:
				right = true
			case pg_query.JoinType_JOIN_RIGHT:
				left = true
			case pg_query.JoinType_JOIN_FULL:
				left, right = true, true
			}
			from(j.Larg, left)
			from(j.Rarg, right)
			if j.Quals != nil {
				if j.Jointype == pg_query.JoinType_JOIN_INNER && !nullable {
					inner = append(inner, j.Quals)
				} else {
					outer = append(outer, j.Quals)
				}
			}
		default:
			sc.Derived = true // subquery, function, VALUES, …
		}
	}
	for _, n := range sel.FromClause {
		from(n, false)
	}
	sc.Inner = d.andAll(inner)
	sc.Outer = product(sc.Inner, d.andAll(outer))
	return sc
}

type dnfBuilder struct{ maxIn int }

var trueDNF = [][]Atom{{}}

func (b dnfBuilder) andAll(nodes []*pg_query.Node) [][]Atom {
	d := trueDNF
	for _, n := range nodes {
		d = product(d, b.dnf(n))
	}
	return d
}

func product(a, b [][]Atom) [][]Atom {
	if len(a)*len(b) > maxDisjuncts {
		return trueDNF
	}
	out := make([][]Atom, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			c := make([]Atom, 0, len(x)+len(y))
			out = append(out, append(append(c, x...), y...))
		}
	}
	return out
}

func union(a, b [][]Atom) [][]Atom {
	if len(a)+len(b) > maxDisjuncts {
		return trueDNF
	}
	return append(append([][]Atom(nil), a...), b...)
}

// dnf turns a predicate into disjunctive normal form over the atoms it
// understands; anything else is TRUE (dropped).
func (b dnfBuilder) dnf(n *pg_query.Node) [][]Atom {
	switch x := n.Node.(type) {
	case *pg_query.Node_BoolExpr:
		switch x.BoolExpr.Boolop {
		case pg_query.BoolExprType_AND_EXPR:
			return b.andAll(x.BoolExpr.Args)
		case pg_query.BoolExprType_OR_EXPR:
			var d [][]Atom
			for _, a := range x.BoolExpr.Args {
				d = union(d, b.dnf(a))
			}
			return d
		}
	case *pg_query.Node_AExpr:
		return b.aexpr(x.AExpr)
	case *pg_query.Node_NullTest:
		if x.NullTest.Nulltesttype == pg_query.NullTestType_IS_NULL {
			if c, ok := colRef(x.NullTest.Arg); ok {
				return [][]Atom{{{Col: c, Kind: ValNull}}}
			}
		}
	case *pg_query.Node_ColumnRef:
		if c, ok := colRef(n); ok { // WHERE flag: a bool column is true
			return [][]Atom{{{Col: c, Kind: ValLiteral, Lit: true}}}
		}
	}
	return trueDNF
}

func (b dnfBuilder) aexpr(e *pg_query.A_Expr) [][]Atom {
	if !isEquals(e.Name) {
		return trueDNF
	}
	switch e.Kind {
	case pg_query.A_Expr_Kind_AEXPR_OP:
		l, lok := colRef(e.Lexpr)
		r, rok := colRef(e.Rexpr)
		switch {
		case lok && rok:
			return [][]Atom{{{Col: l, Other: &r}}}
		case lok:
			if a, ok := valueAtom(l, e.Rexpr); ok {
				return [][]Atom{{a}}
			}
		case rok:
			if a, ok := valueAtom(r, e.Lexpr); ok {
				return [][]Atom{{a}}
			}
		}
	case pg_query.A_Expr_Kind_AEXPR_IN:
		c, ok := colRef(e.Lexpr)
		items := e.Rexpr.GetList().GetItems()
		if !ok || len(items) == 0 || len(items) > b.maxIn {
			return trueDNF
		}
		var d [][]Atom
		for _, it := range items {
			a, ok := valueAtom(c, it)
			if !ok {
				return trueDNF
			}
			d = append(d, []Atom{a})
		}
		return d
	case pg_query.A_Expr_Kind_AEXPR_OP_ANY:
		c, ok := colRef(e.Lexpr)
		if p := paramOf(e.Rexpr); ok && p > 0 {
			return [][]Atom{{{Col: c, Kind: ValAnyParam, Param: p}}}
		}
	}
	return trueDNF
}

func isEquals(name []*pg_query.Node) bool {
	if len(name) == 0 {
		return false
	}
	last := name[len(name)-1].GetString_().GetSval()
	return last == "=" && (len(name) == 1 || name[0].GetString_().GetSval() == "pg_catalog")
}

func colRef(n *pg_query.Node) (ColRef, bool) {
	cr := n.GetColumnRef()
	if cr == nil {
		return ColRef{}, false
	}
	var parts []string
	for _, f := range cr.Fields {
		s := f.GetString_()
		if s == nil {
			return ColRef{}, false // a.*
		}
		parts = append(parts, s.Sval)
	}
	switch len(parts) {
	case 1:
		return ColRef{Name: parts[0]}, true
	case 2:
		return ColRef{Qual: parts[0], Name: parts[1]}, true
	case 3:
		return ColRef{Schema: parts[0], Qual: parts[1], Name: parts[2]}, true
	}
	return ColRef{}, false
}

func paramOf(n *pg_query.Node) int {
	if tc := n.GetTypeCast(); tc != nil {
		n = tc.Arg
	}
	if p := n.GetParamRef(); p != nil {
		return int(p.Number)
	}
	return 0
}

// valueAtom reads a constant or a parameter, possibly cast.
func valueAtom(c ColRef, n *pg_query.Node) (Atom, bool) {
	a := Atom{Col: c}
	if tc := n.GetTypeCast(); tc != nil {
		a.Cast = typeName(tc.TypeName)
		n = tc.Arg
	}
	if p := n.GetParamRef(); p != nil {
		a.Kind, a.Param = ValParam, int(p.Number)
		return a, true
	}
	k := n.GetAConst()
	if k == nil || k.Isnull {
		return a, false // col = NULL matches nothing; other forms are unknown
	}
	switch {
	case k.GetIval() != nil:
		a.Lit = int64(k.GetIval().Ival)
	case k.GetSval() != nil:
		a.Lit = k.GetSval().Sval
	case k.GetFval() != nil:
		a.Lit = NumericLiteral(k.GetFval().Fval)
	case k.GetBoolval() != nil:
		a.Lit = k.GetBoolval().Boolval
	default:
		return a, false
	}
	return a, true
}

func typeName(t *pg_query.TypeName) string {
	// varchar(3) truncates: the value compared is not the one written.
	if t == nil || len(t.ArrayBounds) > 0 || len(t.Typmods) > 0 {
		return "?"
	}
	var parts []string
	for _, n := range t.Names {
		parts = append(parts, n.GetString_().GetSval())
	}
	return strings.ToLower(strings.Join(parts, "."))
}
