package driver

import (
	"context"
	"errors"
	"time"

	"github.com/cacheops/cacheops/keys"
	"github.com/cacheops/cacheops/lua"
)

// maxUndelivered bounds the stamps kept while Redis is down; past it they
// collapse into the databases' global stamps.
const maxUndelivered = 10000

// unknownSchema is the Token of a catalog read while Redis did not answer:
// it matches no schema stamp, so what is planned with it is checked as stale.
const unknownSchema = "\x01unknown"

// schemaToken reads (or creates) the schema copies' tokens before a catalog
// load. While the circuit breaker is open it does not wait for Redis: the
// catalog is then checked as stale once Redis answers again.
func (c *Config) schemaToken(ctx context.Context, db *database) string {
	if c.Store == nil || c.breaker.IsOpen() {
		return unknownSchema
	}
	ctx, cancel := c.redisContext(context.WithoutCancel(ctx))
	defer cancel()
	token, err := c.Store.SchemaTokens(ctx, db.schemaStamps[:], 2*c.TTL)
	c.recordRedis(ctx, err)
	if err != nil {
		c.redisFailed(ctx, err, time.Time{})
		return unknownSchema
	}
	return token
}

// invalidate applies a finished write's changes: it turns them into stamps
// (using this process' copies of the schemes sets of the relations known by
// rows) and deletes them, together with any invalidation still undelivered,
// in one round trip that also checks the copies are current; a relation
// whose copy was not is read again and invalidated in a second trip. One
// that cannot be delivered is kept; until it is, this process serves no hits
// at all (correct, if coarse) and retries on later reads and writes.
// schemaToken is the Token of the catalog the write was planned with (or ""
// when none): if the schema stamp holds another, the schema changed since
// and the plan may have missed triggers, cascades or views, so the whole
// database goes and the catalog is reloaded.
func (c *Config) invalidate(ctx context.Context, db *database, changes []keys.Change, global bool, schemaToken string) {
	if c.Store == nil || (len(changes) == 0 && !global) || c.noInvalidation.Load() {
		return
	}
	if !c.Store.Cluster() && !c.breaker.Allow() {
		// Redis has been failing: keep the invalidation for the redeliverer,
		// which probes Redis and sends it as soon as Redis answers, rather
		// than make every write wait a timeout. Until then this process
		// serves no hits. Taken whole (the schemes sets cannot be read),
		// with the whole database when the write's catalog cannot be checked.
		// On a cluster each node has a breaker of its own (lua.ErrNodeDown):
		// a node that fails must not hold back what the others can take
		// while other processes read from them.
		kept := db.wideStamps(changes, global || schemaToken != "")
		call(ctx, c.Hooks.Invalidate, Event{Stamps: len(kept), Err: errRedisDown}, time.Time{})
		c.keepUndelivered(db, kept)
		return
	}
	// The write has happened: deliver even if the caller gives up now.
	ctx, cancel := c.redisContext(context.WithoutCancel(ctx))
	defer cancel()
	start := c.since()
	stamps, setChecks, granular, readErr := db.invalidationStamps(ctx, c.Store, changes, global)
	if readErr != nil {
		c.recordDelivery(ctx, readErr) // the relations go whole: say why
	}
	if len(stamps) == 0 {
		return
	}
	c.stats.Invalidations.Add(int64(len(stamps)))
	pending := c.pendingUndelivered()
	all := append(stamps, pending.stamps...)
	var checks []lua.Check
	if schemaToken != "" && !global {
		checks = db.checks(changes, schemaToken) // else nothing to learn: everything goes anyway
	}
	schemaChecks := len(checks)
	checks = append(checks, setChecks...)
	stale, undelivered, err := c.Store.InvalidateChecked(ctx, checks, all)
	var outdated []keys.Change
	schemaOld := false
	for _, st := range stale {
		if st.Check < schemaChecks {
			schemaOld = true
			continue
		}
		ch := granular[st.Check-schemaChecks]
		db.rememberSchemes(ch.Rel, st.Set)
		outdated = append(outdated, ch)
	}
	switch {
	case err != nil:
	case schemaOld:
		db.schemaChanged()
		c.stats.Invalidations.Add(buckets)
		undelivered, err = c.Store.Invalidate(ctx, db.globalStamps[:])
	case len(outdated) > 0:
		var more []string
		more, err = c.redeliver(ctx, db, outdated)
		undelivered = append(undelivered, more...)
	}
	c.recordDelivery(ctx, err)
	var wide []string
	if err != nil && schemaChecks > 0 {
		// Whether the write was planned with a current catalog is unknown
		// now: assume it was not.
		wide = append(wide, db.globalStamps[:]...)
	}
	if err != nil && len(setChecks) > 0 {
		// Nor is whether the copies of the schemes sets were current: the
		// relations go whole.
		wide = append(wide, db.wideStamps(granular, false)...)
	}
	if len(wide) > 0 && len(undelivered) < len(all) {
		// Some of the cluster's nodes answered: they take the wide stamps
		// now, as other processes read from them; the rest are kept.
		more, werr := c.Store.Invalidate(ctx, wide)
		c.recordDelivery(ctx, werr)
		wide = more
	}
	undelivered = append(undelivered, wide...)
	call(ctx, c.Hooks.Invalidate, Event{Stamps: len(stamps), Err: err}, start)
	c.settleUndelivered(db, pending, undelivered)
}

// errRedisDown is why an invalidation is kept without trying Redis.
var errRedisDown = errors.New("cacheops: Redis unreachable (circuit breaker open); invalidation kept for redelivery")

// redeliver invalidates changes whose copies of the schemes sets were out
// of date (a reader registered a scheme, or a set was lost): the failed
// check brought the sets as they are, so this is one more round trip,
// checked again; after a few rounds that keep losing the race with readers
// the relations go whole.
func (c *Config) redeliver(ctx context.Context, db *database, changes []keys.Change) ([]string, error) {
	for range 3 {
		stamps, checks, granular, readErr := db.invalidationStamps(ctx, c.Store, changes, false)
		if readErr != nil {
			c.recordDelivery(ctx, readErr)
		}
		c.stats.Invalidations.Add(int64(len(stamps)))
		stale, undelivered, err := c.Store.InvalidateChecked(ctx, checks, stamps)
		if err != nil || len(stale) == 0 {
			if err != nil && len(checks) > 0 {
				undelivered = append(undelivered, db.wideStamps(granular, false)...)
			}
			return undelivered, err
		}
		changes = changes[:0:0]
		for _, st := range stale {
			db.rememberSchemes(granular[st.Check].Rel, st.Set)
			changes = append(changes, granular[st.Check])
		}
	}
	wide := db.wideStamps(changes, false)
	c.stats.Invalidations.Add(int64(len(wide)))
	return c.Store.Invalidate(ctx, wide)
}

// invalidateAmbiguous invalidates the changes of a write whose outcome is
// unknown, now and again after AmbiguousDelay: a commit whose reply was lost
// may become visible later than its error (synchronous replication waits
// before it shows), after a reader has filled the old rows again.
func (c *Config) invalidateAmbiguous(ctx context.Context, db *database, changes []keys.Change, global bool, schemaToken string) {
	c.stats.Ambiguous.Add(1)
	c.invalidate(ctx, db, changes, global, schemaToken)
	if c.AmbiguousDelay > 0 && (len(changes) > 0 || global) {
		time.AfterFunc(c.AmbiguousDelay, func() {
			c.invalidate(context.Background(), db, changes, global, schemaToken)
		})
	}
}

// recordDelivery counts an invalidation's outcome. One the master took but
// too few replicas acknowledged says nothing bad of Redis: it does not feed
// the circuit breaker.
func (c *Config) recordDelivery(ctx context.Context, err error) {
	if errors.Is(err, lua.ErrNotReplicated) {
		c.stats.Unreplicated.Add(1)
		return
	}
	if errors.Is(err, lua.ErrNodeDown) {
		return // no call was made: nothing new about Redis
	}
	c.recordRedis(ctx, err)
	if err != nil {
		c.redisFailed(ctx, err, time.Time{})
	}
}
