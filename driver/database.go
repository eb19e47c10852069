package driver

import (
	"context"
	"database/sql/driver"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/jackc/pgx/v5"

	"github.com/cacheops/cacheops/catalog"
	"github.com/cacheops/cacheops/keys"
	"github.com/cacheops/cacheops/lua"
)

// database is the state shared by all connections to one database: its
// catalog and the plans resolved against it.
type database struct {
	layout

	cat        atomic.Pointer[catalog.Catalog]
	stale      atomic.Bool // a DDL ran: the catalog must not be used until reloaded
	wantReload atomic.Bool // a name was not found: reload when allowed
	lastLoad   atomic.Int64
	loadMu     sync.Mutex

	privileges privileges
	watch      watchLag

	// schemes holds, per relation, the schemes set as this process' writers
	// last read it (*schemesCopy): invalidations check it is still current
	// rather than reading it every time.
	schemes sync.Map

	mu    sync.Mutex
	gen   atomic.Uint64
	plans map[string]*lru.Cache[string, *plan] // session fingerprint → plans
}

func newDatabase(id, prefix string) *database {
	d := &database{layout: newLayout(id, prefix)}
	d.plans = map[string]*lru.Cache[string, *plan]{}
	return d
}

// readKeys returns every stamp a read depends on with these arguments (its
// relations', then per conjunction the conjunction's and, once per scheme,
// the scheme's) and the conjunctions they came from, for the registrations
// a miss makes (a hit needs none: registrations builds them then).
func (d *database) readKeys(p *plan, args []driver.NamedValue) ([]string, []keys.ConjInstance) {
	inst := keys.Instantiate(p.Conjs, args, p.MaxInList)
	stamps := make([]string, 0, len(p.stamps)+2*len(inst))
	stamps = append(stamps, p.stamps...)
	for i, c := range inst {
		stamps = append(stamps, d.conjStamp(c.Rel, c.Scheme, c.Values))
		if c.Scheme != "" && firstScheme(inst, i) {
			stamps = append(stamps, d.schemeStamp(c.Rel, c.Scheme))
		}
	}
	// One order in every process: an entry's header lists its stamps' tokens
	// in this order, and the analysis walks the tree in no fixed order.
	sort.Strings(stamps[len(p.stamps):])
	return stamps, inst
}

// firstScheme reports whether inst[i] is the first of its relation and
// scheme (a read has a handful: a scan beats a map).
func firstScheme(inst []keys.ConjInstance, i int) bool {
	for _, c := range inst[:i] {
		if c.Rel == inst[i].Rel && c.Scheme == inst[i].Scheme {
			return false
		}
	}
	return true
}

// registrations are the schemes a miss registers before it runs the query,
// per relation.
func (d *database) registrations(inst []keys.ConjInstance) []lua.Registration {
	var regs []lua.Registration
	for i, c := range inst {
		if !firstScheme(inst, i) {
			continue
		}
		j := slices.IndexFunc(regs, func(r lua.Registration) bool { return r.Set == d.schemesSet(c.Rel) })
		if j < 0 {
			j = len(regs)
			regs = append(regs, lua.Registration{Set: d.schemesSet(c.Rel), TableStamp: d.stamp(c.Rel)})
		}
		regs[j].Schemes = append(regs[j].Schemes, c.Scheme)
	}
	return regs
}

// plan is a resolved plan with its Redis keys built once.
type plan struct {
	*keys.Plan
	// stamps a cached read depends on whatever its arguments: for each
	// bucket of its relations the global and the schema copy, then one per
	// relation.
	stamps []string
	// schemaBuckets are the buckets whose schema copies are stamps
	// 1, 3, 5, ...: a lookup compares them with the plan's catalog.
	schemaBuckets []int
	// entryPrefix starts its entries' keys: the tag of its first relation's
	// bucket, so that a one-table read's keys all share a slot.
	entryPrefix string
	// effects: the statement changes data, schema, session or transaction
	// state, so the connection must act after it.
	effects bool
	// fillLock: a miss takes the cross-process fill lock.
	fillLock bool
	// tablesOff: a table it reads is not to be cached (Config.Tables);
	// tablesTTL: the smallest TTL the rules of its tables give.
	tablesOff bool
	tablesTTL time.Duration
	// captureOff: PostgreSQL refused this write's capture for lack of
	// privilege; it runs as written and invalidates its tables whole.
	captureOff atomic.Bool
	// schemaToken is the catalog's Token ("" when planned without a
	// catalog): its reads and writes are checked against the schema stamp.
	schemaToken string
	// misses rises with each lookup that misses and falls with each hit
	// (within 0..maxMisses): a read that mostly misses looks up and
	// registers in one round trip, one that mostly hits by a plain MGET.
	misses atomic.Int32
}

const maxMisses = 4

// mostlyMisses reports whether the plan's recent lookups mostly missed.
func (p *plan) mostlyMisses() bool { return p.misses.Load() > maxMisses/2 }

// observeLookup counts a lookup's outcome; racing updates may be lost, which
// only delays the switch.
func (p *plan) observeLookup(hit bool) {
	n := p.misses.Load()
	switch {
	case hit && n > 0:
		p.misses.Store(n - 1)
	case !hit && n < maxMisses:
		p.misses.Store(n + 1)
	}
}

func (d *database) newPlan(p *keys.Plan, cat *catalog.Catalog, cfg *Config) *plan {
	out := &plan{Plan: p, fillLock: cfg.FillLock}
	if cat != nil {
		out.schemaToken = cat.Token
	}
	for _, dep := range p.Deps {
		for _, t := range cfg.FillLockTables {
			if tableMatches(dep, t) {
				out.fillLock = true
			}
		}
	}
	if p.Cacheable {
		out.applyRules(cfg.Tables)
		home := d.bucket("")
		if len(p.Deps) > 0 {
			home = d.bucket(p.Deps[0])
		}
		out.entryPrefix = d.tags[home]
		out.schemaBuckets = []int{home}
		for _, rel := range p.Deps {
			if b := d.bucket(rel); !slices.Contains(out.schemaBuckets, b) {
				out.schemaBuckets = append(out.schemaBuckets, b)
			}
		}
		out.stamps = make([]string, 0, 2*len(out.schemaBuckets)+len(p.Deps))
		for _, b := range out.schemaBuckets {
			out.stamps = append(out.stamps, d.globalStamps[b], d.schemaStamps[b])
		}
		for _, rel := range p.Deps {
			out.stamps = append(out.stamps, d.stamp(rel))
		}
	}
	for _, s := range p.Steps {
		if s.Kind != keys.KindRead && s.Kind != keys.KindPassThrough || s.Global || s.SessionChange {
			out.effects = true
		}
	}
	return out
}

// tableMatches reports whether a relation key ("schema"."name") is the table
// a user named as schema.table or table.
func tableMatches(key, name string) bool {
	schema, table, qualified := strings.Cut(name, ".")
	if !qualified {
		return strings.HasSuffix(key, "."+pgx.Identifier{schema}.Sanitize())
	}
	return key == pgx.Identifier{schema, table}.Sanitize()
}

// wideStamps are the stamps of changes taken whole: what is kept when the
// schemes cannot be read.
func (d *database) wideStamps(changes []keys.Change, global bool) []string {
	var out []string
	if global {
		out = append(out, d.globalStamps[:]...)
	}
	for _, c := range changes {
		out = d.wholeStamps(out, c.Rel)
	}
	return out
}

// invalidationStamps turns changes into the stamps to delete. For a relation
// known by row images it takes the schemes readers registered from this
// process' copy of the relation's schemes set (reading the sets it has no
// copy of in one round trip) and deletes, for every
// scheme and image, the conjunction's stamp, or the scheme's when the image
// does not know one of its columns; a relation without a schemes set, or
// changed whole, loses its table stamp. checks (one per granular change, in
// order) let the invalidation tell whether each copy was current. If the
// sets cannot be read every relation goes whole.
// readErr is why the schemes sets could not be read (the relations then go
// whole): the caller reports it as any Redis failure.
func (d *database) invalidationStamps(ctx context.Context, store *lua.Store, changes []keys.Change, global bool) (out []string, checks []lua.Check, granular []keys.Change, readErr error) {
	if global {
		out = append(out, d.globalStamps[:]...)
	}
	for _, c := range changes {
		if c.Wide || c.Rel == keys.SchemaKey {
			out = d.wholeStamps(out, c.Rel)
		} else if len(c.Images) > 0 {
			granular = append(granular, c)
		}
	}
	if len(granular) == 0 {
		return out, nil, nil, nil
	}
	copies, err := d.schemesOf(ctx, store, granular)
	if err != nil {
		return append(out, d.wideStamps(granular, false)...), nil, nil, err
	}
	seen := map[string]bool{}
	add := func(k string) {
		if !seen[k] {
			seen[k] = true
			out = append(out, k)
		}
	}
	checks = make([]lua.Check, len(granular))
	for i, c := range granular {
		set := copies[i]
		checks[i] = lua.SetCheck(d.schemesSet(c.Rel), set.SchemesSet)
		if len(set.Schemes) == 0 {
			add(d.stamp(c.Rel))
			continue
		}
		add(d.conjStamp(c.Rel, "", nil))
		for j, scheme := range set.Schemes {
			if scheme == "" {
				continue
			}
			cols := set.cols[j]
			for _, img := range c.Images {
				vals := make([]string, len(cols))
				known := true
				for k, col := range cols {
					v, ok := img[col]
					vals[k], known = v, known && ok
				}
				if !known {
					add(d.schemeStamp(c.Rel, scheme))
					break
				}
				add(d.conjStamp(c.Rel, scheme, vals))
			}
		}
	}
	return out, checks, granular, nil
}

func (d *database) plansFor(fingerprint string) (*lru.Cache[string, *plan], uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.plans[fingerprint]
	if c == nil {
		c, _ = lru.New[string, *plan](2048)
		d.plans[fingerprint] = c
	}
	return c, d.gen.Load()
}

// forgetPlans drops every resolved plan: the catalog changed.
func (d *database) forgetPlans() {
	d.privileges.forget()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.plans = map[string]*lru.Cache[string, *plan]{}
	d.gen.Add(1)
}

// observeSchema checks the schema copies' tokens as a lookup saw them
// (tokens, one per stamp of the plan) against those the plan's catalog was
// read under. Every schema change, in any process (and InvalidateAll),
// deletes every copy: on a different token the catalog is dropped and
// reloaded, and the caller must neither trust the entry nor fill one from a
// plan made with the old catalog.
func (d *database) observeSchema(p *plan, tokens string) bool {
	ok := true
	for i, b := range p.schemaBuckets {
		at := (2*i + 1) * lua.TokenLen
		seen := tokens[at : at+lua.TokenLen]
		if seen == schemaToken(p.schemaToken, b) {
			continue
		}
		ok = false
		if cat := d.cat.Load(); cat != nil && schemaToken(cat.Token, b) != seen {
			d.schemaChanged()
			break
		}
	}
	return ok
}

// schemaChanged: a DDL ran through this process.
func (d *database) schemaChanged() {
	d.stale.Store(true)
	d.lastLoad.Store(0) // reload at once, not after the rate limit
	d.forgetPlans()
}

func (d *database) setCatalog(c *catalog.Catalog) {
	d.cat.Store(c)
	d.stale.Store(false)
	d.wantReload.Store(false)
	d.forgetPlans()
}

// mayLoad rate-limits catalog reads: when there is no usable catalog, one
// every 100 ms; to refresh one that lacked a name, one a second.
func (d *database) mayLoad() bool {
	since := time.Since(time.Unix(0, d.lastLoad.Load()))
	if d.stale.Load() || d.cat.Load() == nil {
		return since > 100*time.Millisecond
	}
	return d.wantReload.Load() && since > time.Second
}
