package keys

// Kind is what a statement does, as far as the cache is concerned.
type Kind uint8

const (
	// KindRead is a single SELECT: cached when Plan.Cacheable says so.
	KindRead Kind = iota
	// KindPassThrough reads nothing cacheable and changes nothing (SHOW,
	// EXPLAIN without ANALYZE, FETCH, LISTEN, VACUUM, COPY … TO).
	KindPassThrough
	// KindWrite changes rows of the relations in Writes.
	KindWrite
	// KindDDL changes the schema; Writes names the relations it touches when
	// they are known, otherwise Global is set.
	KindDDL
	// KindTxn is transaction control written as SQL.
	KindTxn
	// KindSession changes session state (SET, RESET, DISCARD).
	KindSession
	// KindUnknown may do anything (CALL, DO, EXECUTE, a user's volatile
	// function): it invalidates the whole database and dirties a transaction.
	KindUnknown
)

func (k Kind) String() string {
	return [...]string{"read", "passthrough", "write", "ddl", "txn", "session", "unknown"}[k]
}

// TxnOp is the transaction-control verb of a KindTxn statement.
type TxnOp uint8

const (
	TxnNone TxnOp = iota
	TxnBegin
	TxnCommit
	TxnRollback
	TxnSavepoint
	TxnRelease
	TxnRollbackTo
	TxnPrepare
	TxnCommitPrepared
	TxnRollbackPrepared
)

// WriteOp is the verb of a plain write.
type WriteOp uint8

const (
	OpNone WriteOp = iota
	OpInsert
	OpUpdate
	OpDelete
)

// Kinds of row change, for Statement.Ops.
const (
	OpsInsert uint8 = 1 << iota
	OpsUpdate
	OpsDelete
)

// RelRef is a relation as written in the SQL: Schema is empty when the name
// is unqualified and resolves through search_path.
type RelRef struct {
	Schema string
	Name   string
}

// FuncRef is a function called by name.
type FuncRef struct {
	Schema string
	Name   string
}

// Statement is the catalog-independent analysis of one SQL statement.
type Statement struct {
	Kind Kind
	// Reads are the relations a statement reads (for a read: everything in
	// FROM, joins, subqueries and CTEs).
	Reads []RelRef
	// Writes are the relations a write or DDL changes.
	Writes []RelRef
	// CTENames are the names of WITH queries: a relation with such a name may
	// be the CTE or, inside the CTE's own body, a table; both readings are kept.
	CTENames []string
	// Scopes are the SELECTs of a read with their FROM relations and
	// predicates, for conjunction keys.
	Scopes []Scope
	// Op, Target, TargetAlias and Assigned describe a plain INSERT, UPDATE or
	// DELETE (no data-modifying WITH) whose rows can be captured.
	Op          WriteOp
	Target      *RelRef
	TargetAlias string
	Assigned    []string
	// WriteSpecs describe every INSERT, UPDATE and DELETE in the statement
	// (nil for a write they cannot describe, such as MERGE).
	WriteSpecs []*WriteSpec
	// Funcs are the functions called, resolved against pg_proc by Resolve.
	Funcs []FuncRef
	// AttrRefs are qualified column references (p.x, (p).x): attribute
	// notation can also call a function x(p), which Resolve checks for.
	AttrRefs []ColRef
	// Operators are the operators used, checked against the user's own.
	Operators []FuncRef
	// NoCache is why a read can never be cached, whatever the catalog says.
	NoCache string
	// TruncateCascade: TRUNCATE … CASCADE empties every referencing table.
	TruncateCascade bool
	// Ops are the kinds of row change the statement makes (OpsInsert, …):
	// foreign keys cascade only on the operations they name.
	Ops uint8
	// OnlyNamed: a DDL statement that changes only the relations in Writes
	// (and objects depending on them): exempt when all are temporary.
	OnlyNamed bool
	// Global: the statement's effect cannot be tied to known relations.
	Global bool
	// CommitsInside: CALL and DO may commit and then fail, so an error from
	// them does not mean that nothing changed.
	CommitsInside bool
	// SessionChange: the session's role, settings or temporary objects may
	// have changed, so the connection re-reads its namespace afterwards.
	SessionChange bool
	Txn           TxnOp
	// Chain: COMMIT/ROLLBACK AND CHAIN start a new transaction at once.
	Chain bool
	// Isolation is the isolation level named by BEGIN / START TRANSACTION /
	// SET TRANSACTION, lower case ("repeatable read"); empty when not named.
	Isolation string
}

// Analysis is the result of analysing one SQL text.
type Analysis struct {
	Stmts []Statement
	// SQL is the text analysed.
	SQL string
	// MaxInList is the longest IN list or ANY array kept as terms.
	MaxInList int
	// ParseErr is set when pg_query could not parse the text: the SQL goes to
	// PostgreSQL unchanged, is never cached and is treated as unknown.
	ParseErr error
	// Hints are the text's cache directives (comments).
	Hints Hints
}

// Single returns the only statement, or nil for a multi-statement text.
func (a *Analysis) Single() *Statement {
	if len(a.Stmts) != 1 {
		return nil
	}
	return &a.Stmts[0]
}
