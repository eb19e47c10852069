package catalog

import (
	"github.com/jackc/pgx/v5"
)

// Relation is one pg_class row of a kind cacheops cares about.
type Relation struct {
	OID    uint32
	Schema string
	Name   string
	// Kind is pg_class.relkind: r table, p partitioned table, v view,
	// m materialized view, f foreign table, S sequence.
	Kind byte
	Temp bool
	// RLS: row level security is enabled; what a read returns depends on
	// who reads it, so the relation is never cached.
	RLS bool
	// SideEffects: the relation has user triggers or rewrite rules, so a
	// write to it may change any table.
	SideEffects bool

	Parents  []uint32 // pg_inherits: tables this one inherits from / is a partition of
	Children []uint32
	// CascadeChildren are tables whose foreign keys to this one cascade
	// (ON DELETE/UPDATE CASCADE, SET NULL, SET DEFAULT).
	CascadeChildren []uint32
	// Referencing are all tables with a foreign key to this one (TRUNCATE … CASCADE).
	Referencing []uint32
	// ForeignKeys are the foreign keys of other tables to this one.
	ForeignKeys []ForeignKey
	// ViewBases are the relations a view's query reads (direct).
	ViewBases []uint32
	// ViewFuncs are the user functions a view's query calls, from pg_depend.
	// Builtins are pinned and have no pg_depend rows: ViewSQL covers them.
	ViewFuncs []Func
	// ViewSQL is a view's definition (pg_get_viewdef), analysed like any
	// query to find what makes it uncacheable (now(), current_date, …).
	ViewSQL string

	// Columns maps a column name to the canonical form its values take in
	// conjunction keys ("" for a column that never takes part).
	Columns map[string]ValueKind
	// Classes name how each keyed column compares ("int", "text:<collation
	// oid>", "enum:<type oid>", …): a value is copied across a join only
	// between columns of one class, which compare the same way.
	Classes map[string]string
	// MaxLen is n for varchar(n) columns: a longer value written with
	// trailing spaces is stored trimmed, so such a value from the SQL text is
	// not the stored one.
	MaxLen map[string]int
	// Order lists the columns by position, for column alias lists
	// (FROM t AS x(a, b) renames t's first two columns).
	Order []string
	// Generated are stored generated columns: an UPDATE changes them without
	// assigning them.
	Generated map[string]bool
	// WriteFuncs are the user's VOLATILE functions that inserting or
	// updating a row runs without the SQL naming them: the table's defaults
	// and constraints, and those of the domains its columns hold (nested in
	// domains, arrays and composites), and casts to or from those types.
	// They may write anything.
	WriteFuncs []string
	// CastFuncs are the user's non-immutable functions behind casts to or
	// from a type its columns hold: a read comparing such a column may run
	// one without the SQL naming it.
	CastFuncs []Func

	key string
}

// ValueKind says how a column's values are put in canonical form, so that a
// read's argument and a written value meet at the same key. Only types with
// one unambiguous form take part; every other column is dropped from
// conjunctions, which makes them broader and stays correct.
type ValueKind string

const (
	// NoKind: floating point, numeric, timestamps, char(n), citext, text with
	// a non-deterministic collation, composite, arrays, …
	NoKind   ValueKind = ""
	IntKind  ValueKind = "int"  // int2, int4, int8 and domains over them
	BoolKind ValueKind = "bool" // bool
	TextKind ValueKind = "text" // text, varchar, name, with a deterministic collation
	UUIDKind ValueKind = "uuid" // uuid
	EnumKind ValueKind = "enum" // enum labels (compared exactly)
)

// Key is the relation's stable name for stamp keys: its quoted, qualified name.
// Names, not OIDs, so that processes with catalogs of different ages agree.
func (r *Relation) Key() string { return r.key }

// ForeignKey is a foreign key of Child referencing this relation.
type ForeignKey struct {
	Child   uint32
	Cols    []string // the child's columns
	RefCols []string // the referenced columns, in the same order
	// OnDelete and OnUpdate are pg_constraint.confdeltype/confupdtype:
	// a no action, r restrict, c cascade, n set null, d set default.
	OnDelete, OnUpdate byte
}

// Func is one function a view calls, with its volatility.
type Func struct {
	Schema, Name string
	Volatility   byte
}

// Volatility is pg_proc.provolatile, ordered so that a larger value is less
// predictable: the worst over a set of overloads is their maximum.
const (
	Immutable byte = 'i'
	Stable    byte = 's'
	Volatile  byte = 'v'
)

// Worse returns the less predictable of two volatilities.
func Worse(a, b byte) byte {
	rank := func(v byte) int {
		switch v {
		case Immutable:
			return 1
		case Stable:
			return 2
		case Volatile:
			return 3
		}
		return 0
	}
	if rank(b) > rank(a) {
		return b
	}
	return a
}

// Catalog is a snapshot of one database's schema.
type Catalog struct {
	// Token is what the cache's schema stamp held just before the catalog
	// was read (set by the driver): while the stamp still holds it, no
	// schema change has been announced since.
	Token string

	rels   map[uint32]*Relation
	byName map[string]map[string]*Relation
	// funcs maps schema → name → the worst volatility of its overloads.
	funcs map[string]map[string]byte
	// operators maps schema → operator name → the worst volatility of the
	// functions implementing it, for operators outside pg_catalog.
	operators map[string]map[string]byte
}

// OperatorVolatility returns the worst volatility of the user-defined
// operators named schema.name, and whether there is one.
func (c *Catalog) OperatorVolatility(schema, name string) (byte, bool) {
	v, ok := c.operators[schema][name]
	return v, ok
}

// SetOperators records user-defined operators (schema → name → worst
// volatility); Load calls it.
func (c *Catalog) SetOperators(ops map[string]map[string]byte) { c.operators = ops }

// Relation returns the relation with the given OID.
func (c *Catalog) Relation(oid uint32) *Relation { return c.rels[oid] }

// Lookup returns the relation schema.name, or nil.
func (c *Catalog) Lookup(schema, name string) *Relation { return c.byName[schema][name] }

// FuncVolatility returns the worst volatility of the functions named
// schema.name, and whether there is one.
func (c *Catalog) FuncVolatility(schema, name string) (byte, bool) {
	v, ok := c.funcs[schema][name]
	return v, ok
}

// New builds a catalog from relations and functions; it is how Load and tests
// make one. Relations' links refer to OIDs within rels.
func New(rels []*Relation, funcs map[string]map[string]byte) *Catalog {
	c := &Catalog{rels: map[uint32]*Relation{}, byName: map[string]map[string]*Relation{}, funcs: funcs}
	if c.funcs == nil {
		c.funcs = map[string]map[string]byte{}
	}
	for _, r := range rels {
		r.key = pgx.Identifier{r.Schema, r.Name}.Sanitize()
		if r.Classes == nil { // a hand-made catalog: one class per kind
			r.Classes = map[string]string{}
			for col, k := range r.Columns {
				if k != NoKind {
					r.Classes[col] = string(k)
				}
			}
		}
		c.rels[r.OID] = r
		if c.byName[r.Schema] == nil {
			c.byName[r.Schema] = map[string]*Relation{}
		}
		c.byName[r.Schema][r.Name] = r
	}
	return c
}

// CascadeTargets are the tables whose rows a delete (or an update of the key)
// of this relation's rows changes through their foreign keys' ON DELETE / ON
// UPDATE actions.
func (r *Relation) CascadeTargets(deletes, updates bool) []uint32 {
	var out []uint32
	for _, fk := range r.ForeignKeys {
		if deletes && acts(fk.OnDelete) || updates && acts(fk.OnUpdate) {
			out = append(out, fk.Child)
		}
	}
	return out
}

// acts: CASCADE, SET NULL and SET DEFAULT change the child's rows.
func acts(action byte) bool { return action == 'c' || action == 'n' || action == 'd' }

// Closure returns the relations reachable from start by next, start included,
// each once.
func (c *Catalog) Closure(start []*Relation, next func(*Relation) []uint32) []*Relation {
	seen := map[uint32]bool{}
	var out []*Relation
	stack := append([]*Relation(nil), start...)
	for len(stack) > 0 {
		r := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if r == nil || seen[r.OID] {
			continue
		}
		seen[r.OID] = true
		out = append(out, r)
		for _, o := range next(r) {
			stack = append(stack, c.rels[o])
		}
	}
	return out
}

// IsSystemSchema reports schemas whose contents change outside any write
// cacheops sees.
func IsSystemSchema(s string) bool {
	switch s {
	case "pg_catalog", "information_schema", "pg_toast":
		return true
	}
	return len(s) > 8 && s[:8] == "pg_temp_" || len(s) > 14 && s[:14] == "pg_toast_temp_"
}
