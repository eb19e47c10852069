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
	var f FuncRef
	switch len(name) {
	case 1:
		f.Name = name[0].GetString_().GetSval()
	case 2:
		f.Schema, f.Name = name[0].GetString_().GetSval(), name[1].GetString_().GetSval()
	default:
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

// IsRelativeTimeLiteral reports whether s is one of the special date/time
// input strings whose meaning depends on the clock ('now', 'today', …): a
// query comparing against one must not be cached, whether it is written as a
// literal or passed as an argument.
func IsRelativeTimeLiteral(s string) bool {
	if len(s) > 16 {
		return false
	}
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "now", "today", "tomorrow", "yesterday":
		return true
	}
	return false
}
