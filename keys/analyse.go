package keys

import (
	"strings"

	pg_query "github.com/pganalyze/pg_query_go/v6"

	"github.com/cacheops/cacheops/internal/pgparse"
)

// Analyse parses sql with pg_query and classifies every statement in it,
// with the default limits. It never fails: text that does not parse yields
// an Analysis with ParseErr set.
func Analyse(sql string) *Analysis { return AnalyseWith(sql, DefaultMaxInList) }

// AnalyseWith is Analyse keeping IN lists and ANY arrays of up to maxIn
// values as terms.
func AnalyseWith(sql string, maxIn int) *Analysis {
	if maxIn <= 0 {
		maxIn = DefaultMaxInList
	}
	res, err := pgparse.Parse(sql)
	if err != nil {
		return &Analysis{SQL: sql, MaxInList: maxIn, ParseErr: err}
	}
	a := &Analysis{SQL: sql, MaxInList: maxIn, Stmts: make([]Statement, 0, len(res.Stmts)), Hints: hintsOf(sql)}
	for _, raw := range res.Stmts {
		a.Stmts = append(a.Stmts, classify(raw.Stmt, maxIn))
	}
	return a
}

func classify(n *pg_query.Node, maxIn int) Statement {
	switch s := n.Node.(type) {
	case *pg_query.Node_SelectStmt:
		return classifySelect(n, s.SelectStmt, maxIn)
	case *pg_query.Node_InsertStmt, *pg_query.Node_UpdateStmt, *pg_query.Node_DeleteStmt, *pg_query.Node_MergeStmt:
		st := collectedWrite(n, maxIn)
		if len(st.Writes) == 1 {
			plainWrite(n, &st)
		}
		return st
	case *pg_query.Node_TruncateStmt:
		st := Statement{Kind: KindWrite, TruncateCascade: s.TruncateStmt.Behavior == pg_query.DropBehavior_DROP_CASCADE}
		for _, r := range s.TruncateStmt.Relations {
			if rv := r.GetRangeVar(); rv != nil {
				st.Writes = append(st.Writes, relRef(rv))
			}
		}
		return st
	case *pg_query.Node_CopyStmt:
		c := s.CopyStmt
		if c.IsFrom && c.Relation != nil {
			// COPY … FROM … WHERE may call functions.
			st := collect(n, maxIn)
			st.Kind, st.Reads, st.Writes, st.Ops = KindWrite, nil, []RelRef{relRef(c.Relation)}, OpsInsert
			return st
		}
		st := collect(n, maxIn)
		st.Kind, st.Reads, st.NoCache = KindPassThrough, nil, "COPY"
		return st
	case *pg_query.Node_RefreshMatViewStmt:
		return Statement{Kind: KindWrite, Writes: []RelRef{relRef(s.RefreshMatViewStmt.Relation)}}
	case *pg_query.Node_ExplainStmt:
		return classifyExplain(s.ExplainStmt, maxIn)
	case *pg_query.Node_TransactionStmt:
		return classifyTxn(s.TransactionStmt)
	case *pg_query.Node_VariableSetStmt:
		st := Statement{Kind: KindSession, SessionChange: true}
		if s.VariableSetStmt.Name == "TRANSACTION" || s.VariableSetStmt.Name == "transaction_isolation" {
			st.Isolation = isolationOf(s.VariableSetStmt.Args)
		}
		return st
	case *pg_query.Node_DiscardStmt:
		return Statement{Kind: KindSession, SessionChange: true}
	case *pg_query.Node_ConstraintsSetStmt:
		// SET CONSTRAINTS … DEFERRED moves checks to COMMIT: no schema
		// change, nothing to re-read.
		return Statement{Kind: KindSession}
	case *pg_query.Node_DeclareCursorStmt:
		// The cursor's query runs at FETCH time; its functions decide whether
		// it may write (a user's volatile function), so keep them.
		st := collect(s.DeclareCursorStmt.Query, maxIn)
		st.Kind, st.Reads, st.NoCache = KindPassThrough, nil, "cursor"
		return st
	case *pg_query.Node_VariableShowStmt, *pg_query.Node_FetchStmt, *pg_query.Node_ClosePortalStmt,
		*pg_query.Node_ListenStmt, *pg_query.Node_UnlistenStmt, *pg_query.Node_NotifyStmt,
		*pg_query.Node_VacuumStmt, *pg_query.Node_CheckPointStmt, *pg_query.Node_LockStmt,
		*pg_query.Node_DeallocateStmt, *pg_query.Node_PrepareStmt, *pg_query.Node_ClusterStmt,
		*pg_query.Node_ReindexStmt, *pg_query.Node_LoadStmt:
		return Statement{Kind: KindPassThrough, NoCache: "utility"}
	case *pg_query.Node_CallStmt, *pg_query.Node_DoStmt:
		// A procedure or DO block may COMMIT and then fail: its error does
		// not prove that nothing changed.
		return Statement{Kind: KindUnknown, Global: true, SessionChange: true, CommitsInside: true}
	case *pg_query.Node_ExecuteStmt:
		return Statement{Kind: KindUnknown, Global: true, SessionChange: true}
	default:
		return classifyDDL(n)
	}
}

func classifySelect(n *pg_query.Node, sel *pg_query.SelectStmt, maxIn int) Statement {
	st := collect(n, maxIn)
	switch {
	case sel.IntoClause != nil:
		// SELECT … INTO creates a table: schema change, never a cached read.
		return Statement{Kind: KindDDL, Global: !isTemp(sel.IntoClause.Rel), Funcs: st.Funcs,
			Operators: st.Operators, AttrRefs: st.AttrRefs, SessionChange: true}
	case len(st.Writes) > 0:
		st.Kind = KindWrite // a data-modifying CTE
	default:
		st.Kind = KindRead
		st.Scopes = scopes(n, st.CTENames, maxIn)
	}
	return st
}

func collectedWrite(n *pg_query.Node, maxIn int) Statement {
	st := collect(n, maxIn)
	st.Kind = KindWrite
	return st
}

// plainWrite records what a capture needs of an INSERT, UPDATE or DELETE
// whose only write is its own (no data-modifying WITH query).
func plainWrite(n *pg_query.Node, st *Statement) {
	var rv *pg_query.RangeVar
	switch s := n.Node.(type) {
	case *pg_query.Node_InsertStmt:
		st.Op, rv = OpInsert, s.InsertStmt.Relation
		if oc := s.InsertStmt.OnConflictClause; oc != nil && oc.Action == pg_query.OnConflictAction_ONCONFLICT_UPDATE {
			st.Assigned = assignedColumns(oc.TargetList)
		}
	case *pg_query.Node_UpdateStmt:
		st.Op, rv = OpUpdate, s.UpdateStmt.Relation
		st.Assigned = assignedColumns(s.UpdateStmt.TargetList)
	case *pg_query.Node_DeleteStmt:
		st.Op, rv = OpDelete, s.DeleteStmt.Relation
	default:
		return
	}
	ref := relRef(rv)
	st.Target, st.TargetAlias = &ref, planName(rv)
}

func assignedColumns(targets []*pg_query.Node) []string {
	var cols []string
	for _, t := range targets {
		if rt := t.GetResTarget(); rt != nil {
			cols = append(cols, rt.Name)
		}
	}
	return cols
}

func classifyExplain(e *pg_query.ExplainStmt, maxIn int) Statement {
	for _, o := range e.Options {
		if d := o.GetDefElem(); d != nil && d.Defname == "analyze" && defElemTrue(d) {
			// EXPLAIN ANALYZE runs the statement, writes included.
			inner := classify(e.Query, maxIn)
			if inner.Kind == KindRead {
				inner.Kind, inner.NoCache = KindPassThrough, "EXPLAIN"
			}
			return inner
		}
	}
	return Statement{Kind: KindPassThrough, NoCache: "EXPLAIN"}
}

func defElemTrue(d *pg_query.DefElem) bool {
	switch {
	case d.Arg == nil:
		return true
	case d.Arg.GetBoolean() != nil:
		return d.Arg.GetBoolean().Boolval
	case d.Arg.GetString_() != nil:
		return !falsy(d.Arg.GetString_().Sval)
	}
	if c := d.Arg.GetAConst(); c != nil {
		switch {
		case c.GetBoolval() != nil:
			return c.GetBoolval().Boolval
		case c.GetIval() != nil:
			return c.GetIval().Ival != 0
		case c.GetSval() != nil:
			return !falsy(c.GetSval().Sval)
		}
	}
	return true
}

func falsy(s string) bool {
	switch strings.ToLower(s) {
	case "false", "off", "0", "no":
		return true
	}
	return false
}

func classifyTxn(t *pg_query.TransactionStmt) Statement {
	st := Statement{Kind: KindTxn, Chain: t.Chain}
	switch t.Kind {
	case pg_query.TransactionStmtKind_TRANS_STMT_BEGIN, pg_query.TransactionStmtKind_TRANS_STMT_START:
		st.Txn = TxnBegin
		st.Isolation = isolationOf(t.Options)
	case pg_query.TransactionStmtKind_TRANS_STMT_COMMIT:
		st.Txn = TxnCommit
	case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK:
		st.Txn = TxnRollback
	case pg_query.TransactionStmtKind_TRANS_STMT_SAVEPOINT:
		st.Txn = TxnSavepoint
	case pg_query.TransactionStmtKind_TRANS_STMT_RELEASE:
		st.Txn = TxnRelease
	case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_TO:
		st.Txn = TxnRollbackTo
	case pg_query.TransactionStmtKind_TRANS_STMT_PREPARE:
		st.Txn = TxnPrepare
	case pg_query.TransactionStmtKind_TRANS_STMT_COMMIT_PREPARED:
		// What a prepared transaction wrote is not known here.
		st.Txn, st.Global = TxnCommitPrepared, true
	case pg_query.TransactionStmtKind_TRANS_STMT_ROLLBACK_PREPARED:
		st.Txn = TxnRollbackPrepared
	}
	return st
}

// isolationOf finds "transaction_isolation" among BEGIN's or SET TRANSACTION's
// options and returns its level in lower case.
func isolationOf(opts []*pg_query.Node) string {
	for _, o := range opts {
		d := o.GetDefElem()
		if d == nil || d.Defname != "transaction_isolation" || d.Arg == nil {
			continue
		}
		if c := d.Arg.GetAConst(); c != nil && c.GetSval() != nil {
			return strings.ToLower(c.GetSval().Sval)
		}
	}
	return ""
}

func relRef(rv *pg_query.RangeVar) RelRef {
	if rv == nil {
		return RelRef{}
	}
	return RelRef{Schema: rv.Schemaname, Name: rv.Relname}
}
