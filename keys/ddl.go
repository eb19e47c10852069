package keys

import pg_query "github.com/pganalyze/pg_query_go/v6"

// classifyDDL handles every statement not classified elsewhere. A schema
// change can change what any cached read means (a new table earlier on
// search_path shadows an old one, row level security turned on, a view
// redefined, a privilege revoked), and other processes must learn that their
// catalogs are stale: so DDL invalidates the whole database, which every
// process notices as a new token on the database stamp (see driver). Two
// kinds are exempt: indexes change no row, and temporary relations are
// visible to their own session only, which re-reads its temporary names and
// never caches reads of them.
func classifyDDL(n *pg_query.Node) Statement {
	st := Statement{Kind: KindDDL, SessionChange: true, Global: true}
	switch s := n.Node.(type) {
	case *pg_query.Node_CreateStmt:
		st.Global = !isTemp(s.CreateStmt.Relation)
	case *pg_query.Node_CreateTableAsStmt:
		// Its query runs now: what it calls may write (SELECT … INTO keeps
		// its functions too).
		q := collect(n, DefaultMaxInList)
		st.Funcs, st.Operators, st.AttrRefs = q.Funcs, q.Operators, q.AttrRefs
		st.Global = s.CreateTableAsStmt.Into == nil || !isTemp(s.CreateTableAsStmt.Into.Rel)
	case *pg_query.Node_ViewStmt:
		st.Global = !isTemp(s.ViewStmt.View)
	case *pg_query.Node_CreateSeqStmt:
		st.Global = !isTemp(s.CreateSeqStmt.Sequence)
	case *pg_query.Node_IndexStmt:
		st.Global = false
	case *pg_query.Node_AlterTableStmt:
		st.Writes, st.OnlyNamed = []RelRef{relRef(s.AlterTableStmt.Relation)}, true
	case *pg_query.Node_CreateTrigStmt:
		st.Writes, st.OnlyNamed = []RelRef{relRef(s.CreateTrigStmt.Relation)}, true
	case *pg_query.Node_RuleStmt:
		st.Writes, st.OnlyNamed = []RelRef{relRef(s.RuleStmt.Relation)}, true
	case *pg_query.Node_DropStmt:
		st.Writes = dropTargets(s.DropStmt)
		st.OnlyNamed = len(st.Writes) > 0
	}
	return st
}

// dropTargets names the relations a DROP removes: when all are temporary
// the DROP is exempt (a permanent object cannot depend on a temporary one, so
// CASCADE reaches only temporary objects); otherwise it invalidates the whole
// database.
func dropTargets(d *pg_query.DropStmt) []RelRef {
	switch d.RemoveType {
	case pg_query.ObjectType_OBJECT_TABLE, pg_query.ObjectType_OBJECT_VIEW,
		pg_query.ObjectType_OBJECT_MATVIEW, pg_query.ObjectType_OBJECT_INDEX,
		pg_query.ObjectType_OBJECT_SEQUENCE:
	default:
		return nil
	}
	var rs []RelRef
	for _, o := range d.Objects {
		items := o.GetList().GetItems()
		switch len(items) {
		case 1:
			rs = append(rs, RelRef{Name: items[0].GetString_().GetSval()})
		case 2:
			rs = append(rs, RelRef{Schema: items[0].GetString_().GetSval(), Name: items[1].GetString_().GetSval()})
		default:
			return nil
		}
	}
	return rs
}

func isTemp(rv *pg_query.RangeVar) bool {
	return rv != nil && (rv.Relpersistence == "t" || rv.Schemaname == "pg_temp")
}
