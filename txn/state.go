package txn

import (
	"sort"
	"strings"

	"github.com/cacheops/cacheops/keys"
)

// maxImages bounds the row images a transaction keeps per relation; past it
// the relation is invalidated whole at COMMIT.
const maxImages = 2 * keys.DefaultMaxCapturedRows

// State is one connection's transaction state. The zero value is "no
// transaction". It is not safe for concurrent use; database/sql never uses a
// connection from two goroutines at once.
type State struct {
	active bool
	// snapshot: REPEATABLE READ or SERIALIZABLE; its snapshot may be older
	// than the cache, so it never reads it.
	snapshot bool
	dirty    bool
	failed   bool
	// sessionChanged: a SET inside the transaction; its effect depends on how
	// the transaction ends, so the session is re-read afterwards.
	sessionChanged bool
	global         bool
	pending        map[string]*keys.Change
	// schemaToken is the catalog token the queued writes were planned with;
	// mixedSchema when they differ (checked as stale at COMMIT).
	schemaToken string
}

// mixedSchema matches no schema stamp.
const mixedSchema = "\x01mixed"

// Begin starts a transaction at the given isolation level ("" for the
// session's default, which the caller passes as defaultLevel).
func (s *State) Begin(level, defaultLevel string) {
	*s = State{active: true}
	s.SetIsolation(level, defaultLevel)
}

// SetIsolation records the level named by BEGIN or SET TRANSACTION.
func (s *State) SetIsolation(level, defaultLevel string) {
	if level == "" {
		level = defaultLevel
	}
	switch strings.ToLower(level) {
	case "repeatable read", "serializable", "snapshot":
		s.snapshot = true
	}
}

// Active reports whether a transaction is open.
func (s *State) Active() bool { return s.active }

// UsesCache reports whether reads may use the cache: always outside a
// transaction; inside one only while it is clean, healthy and READ COMMITTED.
func (s *State) UsesCache() bool {
	return !s.active || !(s.snapshot || s.dirty || s.failed)
}

// Dirty makes the transaction bypass the cache from now on: it may see rows
// no other connection sees.
func (s *State) Dirty() { s.dirty = true }

// Queue records changes to invalidate at COMMIT and makes the transaction
// dirty. schemaToken is the Token of the catalog the write was planned with
// ("" when none).
func (s *State) Queue(changes []keys.Change, global bool, schemaToken string) {
	s.dirty = true
	switch {
	case schemaToken == "" || s.schemaToken == schemaToken:
	case s.schemaToken == "":
		s.schemaToken = schemaToken
	default:
		s.schemaToken = mixedSchema
	}
	s.global = s.global || global
	if s.pending == nil && len(changes) > 0 {
		s.pending = make(map[string]*keys.Change, len(changes))
	}
	for _, c := range changes {
		p := s.pending[c.Rel]
		if p == nil {
			p = &keys.Change{Rel: c.Rel}
			s.pending[c.Rel] = p
		}
		p.Wide = p.Wide || c.Wide || len(p.Images)+len(c.Images) > maxImages
		if p.Wide {
			p.Images = nil
		} else {
			p.Images = append(p.Images, c.Images...)
		}
	}
}

// MarkFailed records that a statement failed: PostgreSQL rejects everything
// but ROLLBACK now, so the cache must not answer for it.
func (s *State) MarkFailed() { s.failed = true }

// RolledBackToSavepoint: the transaction works again; what it wrote before the
// savepoint is still queued, and it stays dirty (correct, if coarse).
func (s *State) RolledBackToSavepoint() { s.failed = false }

// MarkSessionChanged records a SET inside the transaction.
func (s *State) MarkSessionChanged() { s.sessionChanged = true }

// Chain starts the transaction that COMMIT/ROLLBACK AND CHAIN open at once,
// with the same isolation as the one that ended.
func (s *State) Chain() {
	snapshot := s.snapshot
	*s = State{active: true, snapshot: snapshot}
}

// End closes the transaction and returns what it queued, sorted by relation,
// and whether the session must be re-read. The caller runs the invalidations
// after a COMMIT (whatever its outcome: a commit whose reply was lost may
// have happened) and drops them after a ROLLBACK.
func (s *State) End() (changes []keys.Change, global bool, schemaToken string, sessionChanged bool) {
	changes = make([]keys.Change, 0, len(s.pending))
	for _, c := range s.pending {
		changes = append(changes, *c)
	}
	sort.Slice(changes, func(i, j int) bool { return changes[i].Rel < changes[j].Rel })
	global, schemaToken, sessionChanged = s.global, s.schemaToken, s.sessionChanged
	*s = State{}
	return changes, global, schemaToken, sessionChanged
}
