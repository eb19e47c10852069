package catalog

import (
	"context"
	"database/sql/driver"
	"fmt"
	"slices"
	"strings"
)

// Querier runs one query and returns all its rows. The driver implements it on
// a raw connection that is not in a transaction.
type Querier interface {
	QueryAll(ctx context.Context, sql string) ([][]driver.Value, error)
}

const (
	relationsSQL = `SELECT c.oid::int8, n.nspname::text, c.relname::text, c.relkind::text, c.relpersistence::text,
  c.relrowsecurity,
  EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal)
  OR EXISTS (SELECT 1 FROM pg_rewrite r WHERE r.ev_class = c.oid AND r.ev_type <> '1')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S')`
	inheritsSQL = `SELECT inhrelid::int8, inhparent::int8 FROM pg_inherits`
	foreignSQL  = `SELECT c.conrelid::int8, c.confrelid::int8,
  c.confdeltype IN ('c', 'n', 'd') OR c.confupdtype IN ('c', 'n', 'd'),
  c.confdeltype::text, c.confupdtype::text,
  (SELECT string_agg(a.attname::text, chr(1) ORDER BY k.i) FROM unnest(c.conkey) WITH ORDINALITY k(n, i)
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n),
  (SELECT string_agg(a.attname::text, chr(1) ORDER BY k.i) FROM unnest(c.confkey) WITH ORDINALITY k(n, i)
    JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n)
FROM pg_constraint c WHERE c.contype = 'f'`
	viewRelsSQL = `SELECT DISTINCT r.ev_class::int8, d.refobjid::int8
FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
WHERE d.refclassid = 'pg_class'::regclass AND d.refobjid <> r.ev_class`
	viewFuncsSQL = `SELECT DISTINCT r.ev_class::int8, n.nspname::text, p.proname::text, p.provolatile::text
FROM pg_rewrite r JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
JOIN pg_proc p ON d.refclassid = 'pg_proc'::regclass AND p.oid = d.refobjid
JOIN pg_namespace n ON n.oid = p.pronamespace`
	viewDefsSQL = `SELECT c.oid::int8, pg_get_viewdef(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind = 'v' AND n.nspname NOT IN ('pg_catalog', 'information_schema')`
	// Domains over domains and anything unusual fall to NoKind. name is
	// left out: a cast to it keeps 63 bytes, so a value is not what it stores.
	columnsSQL = `SELECT a.attrelid::int8, a.attname::text,
  CASE
    WHEN bt.typname IN ('int2', 'int4', 'int8') THEN 'int'
    WHEN bt.typname = 'bool' THEN 'bool'
    WHEN bt.typname IN ('text', 'varchar') AND coalesce(co.collisdeterministic, true) THEN 'text'
    WHEN bt.typname = 'uuid' THEN 'uuid'
    WHEN bt.typtype = 'e' THEN 'enum'
    ELSE '' END,
  CASE
    WHEN bt.typname IN ('int2', 'int4', 'int8') THEN 'int'
    WHEN bt.typname IN ('text', 'varchar') THEN 'text:' || a.attcollation::text
    WHEN bt.typtype = 'e' THEN 'enum:' || bt.oid::text
    ELSE bt.typname::text END,
  CASE WHEN bt.typname = 'varchar' THEN coalesce(nullif(a.atttypmod, -1), nullif(t.typtypmod, -1), 3) - 4
    ELSE -1 END,
  a.attgenerated::text, a.attnum::int8, a.atttypid::int8
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
JOIN pg_type t ON t.oid = a.atttypid
JOIN pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attrelid, a.attnum`
	funcsSQL = `SELECT n.nspname::text, p.proname::text, p.provolatile::text
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace`
	// User operators, and user casts as "::" + the target type's name (no
	// operator name can hold a colon): x::t runs the cast's function.
	operatorsSQL = `SELECT n.nspname::text, o.oprname::text, p.provolatile::text
FROM pg_operator o JOIN pg_namespace n ON n.oid = o.oprnamespace JOIN pg_proc p ON p.oid = o.oprcode
WHERE n.nspname <> 'pg_catalog'
UNION ALL
SELECT tn.nspname::text, '::' || t.typname::text, p.provolatile::text
FROM pg_cast k JOIN pg_proc p ON p.oid = k.castfunc JOIN pg_namespace pn ON pn.oid = p.pronamespace
JOIN pg_type t ON t.oid = k.casttarget JOIN pg_namespace tn ON tn.oid = t.typnamespace
WHERE pn.nspname NOT IN ('pg_catalog', 'information_schema')`
	// The user's volatile functions that writing a row runs without the
	// SQL naming them: its table's defaults and constraints.
	writeFuncsSQL = `WITH f AS (
  SELECT p.oid, p.proname::text || ':' || p.provolatile::text AS name, p.provolatile FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema'))
SELECT ad.adrelid::int8, f.name, false FROM pg_attrdef ad
  JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid AND d.refclassid = 'pg_proc'::regclass
  JOIN f ON f.oid = d.refobjid AND f.provolatile = 'v'
UNION
SELECT c.conrelid::int8, f.name, false FROM pg_constraint c
  JOIN pg_depend d ON d.classid = 'pg_constraint'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_proc'::regclass
  JOIN f ON f.oid = d.refobjid AND f.provolatile = 'v' WHERE c.conrelid <> 0`
	// Types whose values run the user's functions: a domain's volatile
	// default and constraints, and the user's own types at either end of a
	// non-immutable cast (an assignment cast runs on INSERT and UPDATE, an
	// implicit one in a comparison; a builtin type at the other end is
	// caught by the cast's name, see operatorsSQL, or by the user's type's
	// relation). The last column says whether a cast runs it.
	typeFuncsSQL = `WITH f AS (
  SELECT p.oid, p.proname::text || ':' || p.provolatile::text AS name, p.provolatile FROM pg_proc p
  JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname NOT IN ('pg_catalog', 'information_schema'))
SELECT d.objid::int8, f.name, false FROM pg_depend d JOIN f ON f.oid = d.refobjid AND f.provolatile = 'v'
WHERE d.classid = 'pg_type'::regclass AND d.refclassid = 'pg_proc'::regclass
UNION
SELECT c.contypid::int8, f.name, false FROM pg_constraint c
  JOIN pg_depend d ON d.classid = 'pg_constraint'::regclass AND d.objid = c.oid AND d.refclassid = 'pg_proc'::regclass
  JOIN f ON f.oid = d.refobjid AND f.provolatile = 'v' WHERE c.contypid <> 0
UNION
SELECT t.typ::int8, f.name, true FROM pg_cast k JOIN f ON f.oid = k.castfunc AND f.provolatile <> 'i'
  CROSS JOIN LATERAL (VALUES (k.castsource), (k.casttarget)) t(typ)
  JOIN pg_type ty ON ty.oid = t.typ JOIN pg_namespace tn ON tn.oid = ty.typnamespace AND tn.nspname <> 'pg_catalog'`
	// typeGraphSQL: for each type that can hold another's values, what it
	// holds: a domain its base type, an array its element, a composite its
	// attributes (a table's row type: its columns, which Load has read).
	typeGraphSQL = `SELECT t.oid::int8, t.typbasetype::int8, 0::int8, 0::int8 FROM pg_type t WHERE t.typtype = 'd'
UNION ALL
SELECT t.oid::int8, t.typelem::int8, 0::int8, 0::int8 FROM pg_type t WHERE t.typcategory = 'A' AND t.typelem <> 0
UNION ALL
SELECT t.oid::int8, 0::int8, t.typrelid::int8, 0::int8 FROM pg_type t JOIN pg_class c ON c.oid = t.typrelid AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
UNION ALL
SELECT t.oid::int8, a.atttypid::int8, 0::int8, 0::int8 FROM pg_class c JOIN pg_type t ON t.typrelid = c.oid
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped WHERE c.relkind = 'c'`
)

// Load reads a catalog through q.
func Load(ctx context.Context, q Querier) (*Catalog, error) {
	run := func(sql string) ([][]driver.Value, error) {
		rows, err := q.QueryAll(ctx, sql)
		if err != nil {
			return nil, fmt.Errorf("cacheops: reading the catalog: %w", err)
		}
		return rows, nil
	}
	relRows, err := run(relationsSQL)
	if err != nil {
		return nil, err
	}
	var rels []*Relation
	byOID := map[uint32]*Relation{}
	for _, row := range relRows {
		r := &Relation{OID: oid(row[0]), Schema: str(row[1]), Name: str(row[2]), Kind: str(row[3])[0],
			Temp: str(row[4]) == "t", RLS: row[5] == true, SideEffects: row[6] == true}
		rels = append(rels, r)
		byOID[r.OID] = r
	}
	link := func(sql string, f func(row []driver.Value)) error {
		rows, err := run(sql)
		for _, row := range rows {
			f(row)
		}
		return err
	}
	if err := link(inheritsSQL, func(row []driver.Value) {
		child, parent := byOID[oid(row[0])], byOID[oid(row[1])]
		if child != nil && parent != nil {
			child.Parents = append(child.Parents, parent.OID)
			parent.Children = append(parent.Children, child.OID)
		}
	}); err != nil {
		return nil, err
	}
	if err := link(foreignSQL, func(row []driver.Value) {
		child, parent := byOID[oid(row[0])], byOID[oid(row[1])]
		if child == nil || parent == nil {
			return
		}
		parent.Referencing = append(parent.Referencing, child.OID)
		if row[2] == true {
			parent.CascadeChildren = append(parent.CascadeChildren, child.OID)
		}
		parent.ForeignKeys = append(parent.ForeignKeys, ForeignKey{Child: child.OID,
			Cols: strings.Split(str(row[5]), "\x01"), RefCols: strings.Split(str(row[6]), "\x01"),
			OnDelete: str(row[3])[0], OnUpdate: str(row[4])[0]})
	}); err != nil {
		return nil, err
	}
	if err := link(viewRelsSQL, func(row []driver.Value) {
		if v := byOID[oid(row[0])]; v != nil {
			v.ViewBases = append(v.ViewBases, oid(row[1]))
		}
	}); err != nil {
		return nil, err
	}
	if err := link(viewFuncsSQL, func(row []driver.Value) {
		if v := byOID[oid(row[0])]; v != nil {
			v.ViewFuncs = append(v.ViewFuncs, Func{Schema: str(row[1]), Name: str(row[2]), Volatility: str(row[3])[0]})
		}
	}); err != nil {
		return nil, err
	}
	if err := link(viewDefsSQL, func(row []driver.Value) {
		if v := byOID[oid(row[0])]; v != nil {
			v.ViewSQL = str(row[1])
		}
	}); err != nil {
		return nil, err
	}
	colTypes := map[uint32][]uint32{} // relation → its columns' types
	if err := link(columnsSQL, func(row []driver.Value) {
		if r := byOID[oid(row[0])]; r != nil {
			colTypes[r.OID] = append(colTypes[r.OID], oid(row[7]))
			if r.Columns == nil {
				r.Columns, r.Classes = map[string]ValueKind{}, map[string]string{}
			}
			col := str(row[1])
			r.Order = append(r.Order, col)
			kind, _ := row[2].(string)
			r.Columns[col] = ValueKind(kind)
			if kind != "" {
				r.Classes[col] = str(row[3])
			}
			if n, _ := row[4].(int64); n >= 0 {
				if r.MaxLen == nil {
					r.MaxLen = map[string]int{}
				}
				r.MaxLen[col] = int(n)
			}
			if g, _ := row[5].(string); g != "" {
				if r.Generated == nil {
					r.Generated = map[string]bool{}
				}
				r.Generated[col] = true
			}
		}
	}); err != nil {
		return nil, err
	}
	if err := link(writeFuncsSQL, func(row []driver.Value) {
		if r := byOID[oid(row[0])]; r != nil {
			r.addFunc(str(row[1]), false)
		}
	}); err != nil {
		return nil, err
	}
	if err := loadTypeFuncs(run, byOID, colTypes); err != nil {
		return nil, err
	}
	funcs := map[string]map[string]byte{}
	if err := link(funcsSQL, func(row []driver.Value) {
		s, n := str(row[0]), str(row[1])
		if funcs[s] == nil {
			funcs[s] = map[string]byte{}
		}
		funcs[s][n] = Worse(funcs[s][n], str(row[2])[0])
	}); err != nil {
		return nil, err
	}
	ops := map[string]map[string]byte{}
	if err := link(operatorsSQL, func(row []driver.Value) {
		s, n := str(row[0]), str(row[1])
		if ops[s] == nil {
			ops[s] = map[string]byte{}
		}
		ops[s][n] = Worse(ops[s][n], str(row[2])[0])
	}); err != nil {
		return nil, err
	}
	c := New(rels, funcs)
	c.SetOperators(ops)
	return c, nil
}

func oid(v driver.Value) uint32 {
	i, _ := v.(int64)
	return uint32(i)
}

func str(v driver.Value) string {
	switch s := v.(type) {
	case string:
		if s == "" {
			return "?"
		}
		return s
	case []byte:
		return string(s)
	}
	return "?"
}

// typeFunc is a function that a value of some type runs.
type typeFunc struct {
	name string // name:volatility
	cast bool
}

// loadTypeFuncs gives each relation the functions its columns' types run,
// through domains, arrays and composites nested to any depth. Most
// databases have no such type, and then this is one query; otherwise one
// more reads the type graph (no scan of pg_attribute: a table's columns
// are colTypes, read with the columns).
func loadTypeFuncs(run func(string) ([][]driver.Value, error), byOID map[uint32]*Relation, colTypes map[uint32][]uint32) error {
	rows, err := run(typeFuncsSQL)
	if err != nil || len(rows) == 0 {
		return err
	}
	funcs := map[uint32][]typeFunc{}
	for _, row := range rows {
		t := oid(row[0])
		funcs[t] = append(funcs[t], typeFunc{str(row[1]), row[2] == true})
	}
	graph, err := run(typeGraphSQL)
	if err != nil {
		return err
	}
	holders := map[uint32][]uint32{} // a type → the types that hold its values
	for _, row := range graph {
		outer, inner, table := oid(row[0]), oid(row[1]), oid(row[2])
		if table != 0 {
			for _, t := range colTypes[table] {
				holders[t] = append(holders[t], outer)
			}
			continue
		}
		holders[inner] = append(holders[inner], outer)
	}
	for frontier := keysOf(funcs); len(frontier) > 0; {
		var next []uint32
		for _, inner := range frontier {
			for _, outer := range holders[inner] {
				before := funcs[outer]
				if funcs[outer] = appendNew(before, funcs[inner]); len(funcs[outer]) > len(before) {
					next = append(next, outer) // its own holders hold these values too
				}
			}
		}
		frontier = next
	}
	for rel, types := range colTypes {
		r := byOID[rel]
		for _, t := range types {
			for _, f := range funcs[t] {
				r.addFunc(f.name, f.cast)
			}
		}
	}
	return nil
}

// addFunc records a function that writing (and, for a cast, reading) the
// relation's rows may run; name is name:volatility.
func (r *Relation) addFunc(name string, cast bool) {
	n, vol, _ := strings.Cut(name, ":")
	if cast {
		r.CastFuncs = append(r.CastFuncs, Func{Name: n, Volatility: vol[0]})
	}
	if vol == string(Volatile) {
		r.WriteFuncs = append(r.WriteFuncs, n)
	}
}

func keysOf(m map[uint32][]typeFunc) []uint32 {
	out := make([]uint32, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

func appendNew(to, from []typeFunc) []typeFunc {
	for _, f := range from {
		if !slices.Contains(to, f) {
			to = append(to, f)
		}
	}
	return to
}
