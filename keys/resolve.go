package keys

import (
	"sort"
	"strings"

	"github.com/cacheops/cacheops/catalog"
)

// SchemaKey is the pseudo-relation whose stamp only DDL deletes. Every entry
// depends on it; a process that sees a new token on it knows the schema
// changed somewhere and reloads its catalog. No relation key can equal it:
// relation keys are quoted identifiers.
const SchemaKey = "#schema"

// Step is the resolved effect of one statement on the cache.
type Step struct {
	Kind      Kind
	Txn       TxnOp
	Chain     bool
	Isolation string
	// Invalidate lists the relation keys a write invalidates whole.
	Invalidate []string
	// Capture, when set, makes a write granular: it reports its rows and
	// invalidates Capture's relations by them (Invalidate is then empty).
	Capture *Capture
	// Predicate, when set, makes a write whose rows cannot be captured
	// granular by what its SQL says of them (Invalidate is then empty).
	Predicate *PredicateWrite
	// Global: invalidate every entry of the database.
	Global bool
	// Schema: the statement may have changed the schema (DDL, or anything
	// that can run DDL: DO, CALL, a user's volatile function). Every process
	// reloads its catalog; Invalidate holds SchemaKey.
	Schema bool
	// CommitsInside: an error does not prove that the statement changed
	// nothing (CALL, DO).
	CommitsInside bool
	// SessionChange: re-read the session's namespace afterwards.
	SessionChange bool
}

// Relations lists every relation a write step may invalidate, sorted.
func (s Step) Relations() []string {
	set := map[string]bool{}
	for _, r := range s.Invalidate {
		set[r] = true
	}
	if c := s.Capture; c != nil {
		for _, ch := range c.WideChanges() {
			set[ch.Rel] = true
		}
	}
	if pw := s.Predicate; pw != nil {
		for _, r := range append(append([]string(nil), pw.Targets...), pw.Wide...) {
			set[r] = true
		}
	}
	out := make([]string, 0, len(set))
	for r := range set {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// Changes is the step's effect when no rows were captured: its relations,
// invalidated whole.
func (s Step) Changes() []Change {
	return WideOf(s.Relations())
}

// Plan is an analysis bound to a catalog and a session.
type Plan struct {
	// Cacheable: a single read whose result may be cached.
	Cacheable bool
	// Reason says why a read is not cacheable (for stats and tests).
	Reason string
	// Deps are the relation keys a cached read depends on, sorted.
	Deps []string
	// Conjs are the conjunction templates of a cached read: per relation,
	// the rows whose change can change its result.
	Conjs []Conj
	// MaxInList bounds the ANY($n) arrays Instantiate expands.
	MaxInList int
	Steps     []Step
	// Complete is false when the catalog lacked something the statement
	// names; such a plan must not be cached, so that a reloaded catalog is
	// used next time.
	Complete bool
	// Provisional: something the session could not learn yet (privileges,
	// inside a transaction) made the plan coarser than it will be: used
	// once, not kept.
	Provisional bool
	// Hints are the statement's cache directives (comments).
	Hints Hints
}

// Resolve binds an analysis to a catalog and a session. cat may be nil when no
// catalog could be read: reads are then not cached and writes invalidate the
// whole database, which is always correct.
func Resolve(a *Analysis, cat *catalog.Catalog, s *Session) *Plan {
	p := &Plan{Complete: true, MaxInList: a.MaxInList, Hints: a.Hints}
	if a.ParseErr != nil {
		p.Reason = "parse error"
		// PostgreSQL may still accept it (another version's syntax).
		p.Steps = []Step{{Kind: KindUnknown, Global: true, SessionChange: true, Schema: true, Invalidate: []string{SchemaKey}}}
		return p
	}
	r := resolver{cat: cat, s: s, p: p}
	for i := range a.Stmts {
		step := r.step(&a.Stmts[i])
		if len(a.Stmts) == 1 && step.Kind == KindWrite && !step.Global {
			if c := r.planCapture(a.SQL, &a.Stmts[i]); c != nil {
				step.Capture, step.Invalidate = c, nil
			} else if pw := r.planPredicateWrite(a.Stmts[i].WriteSpecs); pw != nil {
				step.Predicate, step.Invalidate = pw, nil
			}
		}
		p.Steps = append(p.Steps, step)
	}
	if len(a.Stmts) == 1 && p.Steps[0].Kind == KindRead {
		r.read(&a.Stmts[0])
	} else if p.Reason == "" {
		p.Reason = "not a single read"
	}
	return p
}

type resolver struct {
	cat *catalog.Catalog
	s   *Session
	p   *Plan
}

func (r *resolver) step(st *Statement) Step {
	out := Step{Kind: st.Kind, Txn: st.Txn, Chain: st.Chain, Isolation: st.Isolation, Global: st.Global,
		SessionChange: st.SessionChange, CommitsInside: st.CommitsInside}
	for _, f := range append(append([]FuncRef(nil), st.Funcs...), r.attrFuncs(st)...) {
		switch r.funcEffect(f) {
		case effectWrites:
			out.Kind, out.Global, out.SessionChange = KindUnknown, true, true
		case effectSession:
			out.SessionChange = true
		}
	}
	for _, op := range st.Operators {
		if v, found := r.operatorVolatility(op); found && v == catalog.Volatile {
			out.Kind, out.Global, out.SessionChange = KindUnknown, true, true
		}
	}
	if r.readsVolatileCast(st) {
		// A value read may go through a cast whose function writes: like a
		// default's function, it invalidates the whole database.
		out.Global = true
	}
	if out.Kind == KindDDL && st.OnlyNamed && r.allTemp(st.Writes) {
		out.Global = false // only this session's temporary objects
	}
	// Anything that may run DDL is DDL: a DO block or a function can create a
	// trigger or turn row level security on.
	if out.Kind == KindDDL && out.Global || out.Kind == KindUnknown {
		out.Schema, out.Global = true, true
		out.Invalidate = []string{SchemaKey}
	}
	if out.Kind != KindWrite && out.Kind != KindDDL {
		return out
	}
	if out.Global {
		return out
	}
	if r.cat == nil {
		out.Global = true
		return out
	}
	var start []*catalog.Relation
	for _, ref := range st.Writes {
		rel, temp := r.relation(ref)
		switch {
		case temp && r.s != nil && r.s.TempSideEffects[ref.Name]:
			out.Global = true // its triggers or rules may write anything
			return out
		case temp:
			continue // temporary relations are never cached
		case rel == nil:
			r.p.Complete = false
			out.Global = true
			return out
		}
		start = append(start, rel)
	}
	// The written tables — with their partitions, parents and a view's base
	// tables — change by the statement's own operations; a table a cascade
	// reaches has rows deleted or updated.
	written := map[uint32]bool{}
	for _, rel := range r.cat.Closure(start, func(x *catalog.Relation) []uint32 {
		n := append(append([]uint32(nil), x.Parents...), x.Children...)
		if x.Kind == 'v' {
			n = append(n, x.ViewBases...)
		}
		return n
	}) {
		written[rel.OID] = true
	}
	opsOf := func(rel *catalog.Relation) uint8 {
		if written[rel.OID] {
			return st.Ops
		}
		return OpsUpdate | OpsDelete
	}
	next := func(rel *catalog.Relation) []uint32 {
		// Foreign keys cascade only on the operations they name.
		ops := opsOf(rel)
		n := append(append(rel.CascadeTargets(ops&OpsDelete != 0, ops&OpsUpdate != 0), rel.Parents...), rel.Children...)
		if st.TruncateCascade {
			n = append(n, rel.Referencing...)
		}
		if rel.Kind == 'v' {
			n = append(n, rel.ViewBases...) // a write through a view writes its base tables
		}
		return n
	}
	seen := map[string]bool{}
	for _, rel := range r.cat.Closure(start, next) {
		ops := opsOf(rel)
		switch {
		case rel.SideEffects:
			// Triggers and rules may write anything.
			out.Global = true
		case ops&(OpsInsert|OpsUpdate) != 0 && writesAnything(rel.WriteFuncs):
			// A default or a constraint calls a function that may write.
			out.Global = true
		case rel.Kind == 'm' && viewWrites(rel):
			// REFRESH runs the view's query, and what it calls.
			out.Global = true
		}
		if !seen[rel.Key()] {
			seen[rel.Key()] = true
			out.Invalidate = append(out.Invalidate, rel.Key())
		}
	}
	sort.Strings(out.Invalidate)
	return out
}

// allTemp reports whether every name is one of the session's temporary
// relations.
func (r *resolver) allTemp(refs []RelRef) bool {
	for _, ref := range refs {
		if !(ref.Schema == "pg_temp" || ref.Schema == "" && r.s != nil && r.s.Temp[ref.Name]) {
			return false
		}
	}
	return len(refs) > 0
}

// writesAnything: a user's volatile function may write any table, unless
// known to write none.
func writesAnything(funcs []string) bool {
	for _, f := range funcs {
		if !pureVolatiles[f] {
			return true
		}
	}
	return false
}

func viewWrites(rel *catalog.Relation) bool {
	for _, f := range rel.ViewFuncs {
		if f.Volatility == catalog.Volatile && f.Schema != "pg_catalog" && !pureVolatiles[f.Name] {
			return true
		}
	}
	return false
}

// attrFuncs are the attribute references (p.x, (p).x) that call a function
// x(p) rather than read a column: those whose qualifier names no relation of
// the statement with a column x, when a user's function x exists. Builtins
// are left out: the ones that accept a row (to_json, row_to_json,
// pg_typeof, …) depend only on it, and the ones a column name is likely to
// meet (age, date) accept no row, so there p.age can only be a column.
func (r *resolver) attrFuncs(st *Statement) []FuncRef {
	if r.cat == nil {
		return nil
	}
	var out []FuncRef
	for _, a := range st.AttrRefs {
		if r.isColumn(st, a) {
			continue
		}
		f := FuncRef{Name: a.Name}
		if _, user, _ := r.funcVolatility(f); user != 0 {
			out = appendFunc(out, f)
		}
	}
	return out
}

// isColumn reports whether qual.name is a column of a relation the statement
// names qual (by alias or by name).
func (r *resolver) isColumn(st *Statement, a ColRef) bool {
	for _, sc := range st.Scopes {
		for _, o := range sc.Occs {
			if o.Alias != a.Qual || o.CTE {
				continue
			}
			if rel, _ := r.relation(o.Rel); rel != nil {
				if _, has := column(o, rel, a.Name); has {
					return true
				}
			}
		}
	}
	var refs []RelRef
	for _, ref := range append(append([]RelRef(nil), st.Reads...), st.Writes...) {
		if ref.Name == a.Qual {
			refs = append(refs, ref)
		}
	}
	if st.Target != nil && st.TargetAlias == a.Qual {
		refs = append(refs, *st.Target)
	}
	for _, ref := range refs {
		if rel, _ := r.relation(ref); rel != nil {
			if _, has := rel.Columns[a.Name]; has {
				return true
			}
		}
	}
	return false
}

// readsVolatileCast: a relation the statement names has a column whose
// type has a user's volatile cast.
func (r *resolver) readsVolatileCast(st *Statement) bool {
	if r.cat == nil {
		return false
	}
	for _, ref := range append(append([]RelRef(nil), st.Reads...), st.Writes...) {
		rel, _ := r.relation(ref)
		if rel == nil {
			continue
		}
		for _, f := range rel.CastFuncs {
			if f.Volatility == catalog.Volatile {
				return true
			}
		}
	}
	return false
}

// operatorVolatility returns the worst volatility of the user-defined
// operators op may mean.
func (r *resolver) operatorVolatility(op FuncRef) (byte, bool) {
	if r.cat == nil {
		return 0, false
	}
	schemas := r.schemas()
	if op.Schema != "" {
		schemas = []string{op.Schema}
	}
	var worst byte
	found := false
	for _, s := range schemas {
		if v, ok := r.cat.OperatorVolatility(s, op.Name); ok {
			worst, found = catalog.Worse(worst, v), true
		}
	}
	return worst, found
}

func (r *resolver) read(st *Statement) {
	p := r.p
	if st.NoCache != "" {
		p.Reason = st.NoCache
		return
	}
	if r.cat == nil {
		p.Reason = "no catalog"
		return
	}
	var start []*catalog.Relation
	for _, ref := range st.Reads {
		rel, temp := r.relation(ref)
		if temp {
			p.Reason = "temporary table"
			return
		}
		if rel == nil {
			if ref.Schema == "" && contains(st.CTENames, ref.Name) {
				continue // the WITH query itself
			}
			p.Reason, p.Complete = "unknown relation "+ref.Name, false
			return
		}
		start = append(start, rel)
	}
	viewBases := func(rel *catalog.Relation) []uint32 {
		if rel.Kind == 'v' {
			return rel.ViewBases
		}
		return nil
	}
	deps := map[string]bool{}
	for _, rel := range r.cat.Closure(start, viewBases) {
		if why := uncacheableRelation(rel); why != "" && !(rel.RLS && why == "row level security" && r.s != nil && r.s.RowSecurityOK != nil && r.s.RowSecurityOK(rel.Key())) {
			p.Reason = why
			return
		}
		if rel.Kind == 'v' {
			if why := r.viewUncacheable(rel); why != "" {
				p.Reason = why
				return
			}
		}
		deps[rel.Key()] = true
	}
	for _, f := range append(append([]FuncRef(nil), st.Funcs...), r.attrFuncs(st)...) {
		if why := r.funcCacheable(f); why != "" {
			p.Reason = why
			return
		}
	}
	for _, op := range st.Operators {
		// A user's operator runs a function the SQL does not name.
		if v, found := r.operatorVolatility(op); found && v != catalog.Immutable {
			p.Reason = "operator " + op.Name
			if strings.HasPrefix(op.Name, "::") {
				p.Reason = "cast " + op.Name
			}
			return
		}
	}
	p.Deps = make([]string, 0, len(deps))
	for k := range deps {
		p.Deps = append(p.Deps, k)
	}
	sort.Strings(p.Deps)
	p.Conjs = r.conjunctions(st, start)
	p.Cacheable = true
}

// viewUncacheable checks what a view's query calls: its user functions from
// pg_depend, and everything its definition names (builtins, current_date, …).
func (r *resolver) viewUncacheable(v *catalog.Relation) string {
	for _, f := range v.ViewFuncs {
		if !cacheableVolatility(f.Schema, f.Name, f.Volatility) {
			return "view " + v.Name + " calls " + f.Name
		}
	}
	a := Analyse(v.ViewSQL)
	st := a.Single()
	if st == nil || st.Kind != KindRead {
		return "view " + v.Name + " has an unreadable definition"
	}
	if st.NoCache != "" {
		return "view " + v.Name + ": " + st.NoCache
	}
	for _, f := range st.Funcs {
		if why := r.funcCacheable(f); why != "" {
			return "view " + v.Name + ": " + why
		}
	}
	return ""
}

func uncacheableRelation(rel *catalog.Relation) string {
	switch {
	case catalog.IsSystemSchema(rel.Schema):
		return "system catalog"
	case rel.Temp:
		return "temporary table"
	case rel.RLS:
		return "row level security"
	case rel.Kind == 'f':
		return "foreign table"
	case rel.Kind == 'S':
		return "sequence"
	case len(rel.CastFuncs) > 0:
		return "cast " + rel.CastFuncs[0].Name + " on a column type"
	}
	return ""
}

// relation resolves a name the way PostgreSQL does: pg_temp first (the
// session's temporary relations), then pg_catalog unless search_path names it,
// then search_path in order.
func (r *resolver) relation(ref RelRef) (rel *catalog.Relation, temp bool) {
	if ref.Schema != "" {
		if ref.Schema == "pg_temp" {
			return nil, true
		}
		return r.cat.Lookup(ref.Schema, ref.Name), false
	}
	if r.s != nil && r.s.Temp[ref.Name] {
		return nil, true
	}
	for _, schema := range r.schemas() {
		if rel := r.cat.Lookup(schema, ref.Name); rel != nil {
			return rel, false
		}
	}
	return nil, false
}

func (r *resolver) schemas() []string {
	var path []string
	if r.s != nil {
		path = r.s.SearchPath
	}
	if contains(path, "pg_catalog") {
		return path
	}
	return append([]string{"pg_catalog"}, path...)
}

type funcEffect uint8

const (
	effectNone funcEffect = iota
	effectSession
	effectWrites
)

// funcEffect decides what calling f may do besides returning a value. A
// volatile function outside pg_catalog may write any table; so may one the
// catalog does not know (it may have been created since the catalog was read).
func (r *resolver) funcEffect(f FuncRef) funcEffect {
	if sessionFunctions[f.Name] && (f.Schema == "" || f.Schema == "pg_catalog") {
		return effectSession
	}
	if r.cat == nil {
		return effectWrites
	}
	_, user, found := r.funcVolatility(f)
	if !found {
		r.p.Complete = false
		return effectWrites
	}
	if user == catalog.Volatile && !pureVolatiles[f.Name] {
		return effectWrites
	}
	return effectNone
}

func (r *resolver) funcCacheable(f FuncRef) string {
	builtin, user, found := r.funcVolatility(f)
	if !found {
		return "unknown function " + f.Name
	}
	if builtin != 0 && !cacheableVolatility("pg_catalog", f.Name, builtin) {
		return "function " + f.Name
	}
	if user != 0 && !cacheableVolatility("", f.Name, user) {
		return "function " + f.Name
	}
	return ""
}

// cacheableVolatility: IMMUTABLE functions are cached; STABLE ones only when
// they are builtins on the allow list. A user's STABLE function usually reads
// tables the cache cannot see, so it is not cached (DESIGN.md allowed it; a
// stale read is worse than a miss).
func cacheableVolatility(schema, name string, v byte) bool {
	switch v {
	case catalog.Immutable:
		return true
	case catalog.Stable:
		return schema == "pg_catalog" && stableBuiltins[name]
	}
	return false
}

// funcVolatility returns the worst volatility among the overloads f may mean,
// separately for builtins (pg_catalog) and the user's schemas.
func (r *resolver) funcVolatility(f FuncRef) (builtin, user byte, found bool) {
	schemas := r.schemas()
	if f.Schema != "" {
		schemas = []string{f.Schema}
	}
	for _, s := range schemas {
		v, ok := r.cat.FuncVolatility(s, f.Name)
		if !ok {
			continue
		}
		found = true
		if s == "pg_catalog" {
			builtin = catalog.Worse(builtin, v)
		} else {
			user = catalog.Worse(user, v)
		}
	}
	return builtin, user, found
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
