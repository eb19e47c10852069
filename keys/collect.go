package keys

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// collect walks a whole statement tree and gathers what the cache needs:
// every relation named, the targets of data-modifying statements, every
// function called, and the reasons a read can never be cached. It walks the
// tree generically, so a node type it does not know still has its children
// visited: an unknown construct can hide no relation.
func collect(n *pg_query.Node, maxIn int) Statement {
	c := collector{maxIn: maxIn}
	c.walk(n.ProtoReflect())
	return c.st
}

type collector struct {
	maxIn    int
	st       Statement
	seenRead map[RelRef]bool
	seenFunc map[FuncRef]bool
}

func (c *collector) walk(m protoreflect.Message) {
	c.visit(m.Interface())
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsList() && fd.Message() != nil:
			l := v.List()
			for i := 0; i < l.Len(); i++ {
				c.walk(l.Get(i).Message())
			}
		case fd.Message() != nil && !fd.IsMap():
			c.walk(v.Message())
		}
		return true
	})
}

func (c *collector) visit(m proto.Message) {
	switch x := m.(type) {
	case *pg_query.RangeVar:
		c.addRead(relRef(x))
		if x.Schemaname == "pg_temp" || strings.HasPrefix(x.Schemaname, "pg_temp_") {
			c.noCache("temporary table")
		}
	case *pg_query.InsertStmt:
		c.st.Ops |= OpsInsert
		if oc := x.OnConflictClause; oc != nil && oc.Action == pg_query.OnConflictAction_ONCONFLICT_UPDATE {
			c.st.Ops |= OpsUpdate
		}
		c.st.Writes = appendRel(c.st.Writes, relRef(x.Relation))
		c.st.WriteSpecs = append(c.st.WriteSpecs, writeSpec(&pg_query.Node{Node: &pg_query.Node_InsertStmt{InsertStmt: x}}, c.maxIn))
	case *pg_query.UpdateStmt:
		c.st.Ops |= OpsUpdate
		c.st.Writes = appendRel(c.st.Writes, relRef(x.Relation))
		c.st.WriteSpecs = append(c.st.WriteSpecs, writeSpec(&pg_query.Node{Node: &pg_query.Node_UpdateStmt{UpdateStmt: x}}, c.maxIn))
	case *pg_query.DeleteStmt:
		c.st.Ops |= OpsDelete
		c.st.Writes = appendRel(c.st.Writes, relRef(x.Relation))
		c.st.WriteSpecs = append(c.st.WriteSpecs, writeSpec(&pg_query.Node{Node: &pg_query.Node_DeleteStmt{DeleteStmt: x}}, c.maxIn))
	case *pg_query.MergeStmt:
		c.st.Ops |= OpsInsert | OpsUpdate | OpsDelete
		c.st.Writes = appendRel(c.st.Writes, relRef(x.Relation))
		c.st.WriteSpecs = append(c.st.WriteSpecs, nil) // not described: whole tables
	case *pg_query.CommonTableExpr:
		c.st.CTENames = append(c.st.CTENames, x.Ctename)
	case *pg_query.FuncCall:
		c.addFunc(x.Funcname)
	case *pg_query.ColumnRef:
		c.columnRef(x)
	case *pg_query.A_Indirection:
		// (p).x may call x(p).
		if cr := x.Arg.GetColumnRef(); cr != nil && len(cr.Fields) == 1 {
			for _, ind := range x.Indirection {
				if s := ind.GetString_(); s != nil {
					c.st.AttrRefs = append(c.st.AttrRefs, ColRef{Qual: cr.Fields[0].GetString_().GetSval(), Name: s.Sval})
					break
				}
			}
		}
	case *pg_query.A_Expr:
		if op, ok := funcRef(x.Name); ok {
			c.st.Operators = appendFunc(c.st.Operators, op)
		}
	case *pg_query.TypeCast:
		// x::t may run a user's cast function: checked like an operator.
		if x.TypeName != nil {
			if t, ok := funcRef(x.TypeName.Names); ok {
				t.Name = "::" + t.Name
				c.st.Operators = appendFunc(c.st.Operators, t)
			}
		}
	case *pg_query.SQLValueFunction:
		if x.Op <= pg_query.SQLValueFunctionOp_SVFOP_LOCALTIMESTAMP_N {
			c.noCache("current date or time")
		}
	case *pg_query.SelectStmt:
		if len(x.LockingClause) > 0 {
			c.noCache("locking clause")
		}
	case *pg_query.RangeTableSample:
		c.noCache("TABLESAMPLE")
	case *pg_query.A_Const:
		if s := x.GetSval(); s != nil && IsRelativeTimeLiteral(s.Sval) {
			c.noCache("relative time literal")
		}
	case *pg_query.IntoClause:
		c.noCache("SELECT INTO")
	}
}

func (c *collector) noCache(reason string) {
	if c.st.NoCache == "" {
		c.st.NoCache = reason
	}
}

func (c *collector) addRead(r RelRef) {
	if r.Name == "" || c.seenRead[r] {
		return
	}
	if c.seenRead == nil {
		c.seenRead = map[RelRef]bool{}
	}
	c.seenRead[r] = true
	c.st.Reads = append(c.st.Reads, r)
}

func (c *collector) addFunc(name []*pg_query.Node) {
	f, ok := funcRef(name)
	if !ok {
		c.noCache("function with a cross-database name")
		return
	}
	if c.seenFunc[f] {
		return
	}
	if c.seenFunc == nil {
		c.seenFunc = map[FuncRef]bool{}
	}
	c.seenFunc[f] = true
	c.st.Funcs = append(c.st.Funcs, f)
}

func funcRef(name []*pg_query.Node) (FuncRef, bool) {
	switch len(name) {
	case 1:
		return FuncRef{Name: name[0].GetString_().GetSval()}, true
	case 2:
		return FuncRef{Schema: name[0].GetString_().GetSval(), Name: name[1].GetString_().GetSval()}, true
	}
	return FuncRef{}, false
}

func appendFunc(fs []FuncRef, f FuncRef) []FuncRef {
	for _, x := range fs {
		if x == f {
			return fs
		}
	}
	return append(fs, f)
}

// systemColumns change without a logical write (VACUUM FULL, CLUSTER, a
// row lock sets xmax): a read of one is never cached. PostgreSQL reserves
// these names, so no user column has them.
var systemColumns = map[string]bool{"ctid": true, "xmin": true, "xmax": true, "cmin": true, "cmax": true}

func (c *collector) columnRef(x *pg_query.ColumnRef) {
	var parts []string
	for _, f := range x.Fields {
		s := f.GetString_()
		if s == nil {
			return // t.*
		}
		parts = append(parts, s.Sval)
	}
	if len(parts) == 0 {
		return
	}
	if systemColumns[parts[len(parts)-1]] {
		c.noCache("system column " + parts[len(parts)-1])
	}
	if len(parts) >= 2 {
		c.st.AttrRefs = append(c.st.AttrRefs, ColRef{Qual: parts[len(parts)-2], Name: parts[len(parts)-1]})
	}
}

func appendRel(rs []RelRef, r RelRef) []RelRef {
	if r.Name == "" {
		return rs
	}
	for _, x := range rs {
		if x == r {
			return rs
		}
	}
	return append(rs, r)
}

// IsRelativeTimeLiteral reports whether s may be a date/time input whose
// meaning depends on the clock: PostgreSQL splits such input into fields at
// white space and punctuation and takes 'now', 'today', 'tomorrow' and
// 'yesterday' among them, whatever surrounds them ('now()', 'today 10:00',
// 'tomorrow z'). A query comparing against one must not be cached, whether it
// is written as a literal or passed as an argument. Text that merely contains
// such a word costs a miss, never a stale read.
func IsRelativeTimeLiteral(s string) bool {
	if len(s) > maxDateLen || len(s) < 3 {
		return false
	}
	word := func(r rune) bool { return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' }
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return !word(r) }) {
		switch strings.ToLower(f) {
		case "now", "today", "tomorrow", "yesterday":
			return true
		}
	}
	return false
}

// maxDateLen bounds PostgreSQL's date/time input (MAXDATELEN).
const maxDateLen = 128
