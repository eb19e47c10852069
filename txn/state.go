package txn

import (
	"sort"
	"strings"
)

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
	pending        map[string]struct{}
}

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

// Queue records invalidations to run at COMMIT and makes the transaction
// dirty: from now on it may see rows no other connection sees.
func (s *State) Queue(keys []string, global bool) {
	s.dirty = true
	s.global = s.global || global
	if s.pending == nil && len(keys) > 0 {
		s.pending = make(map[string]struct{}, len(keys))
	}
	for _, k := range keys {
		s.pending[k] = struct{}{}
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

// End closes the transaction and returns what it queued, sorted, and whether
// the session must be re-read. The caller runs the invalidations after a
// COMMIT (whatever its outcome: a commit whose reply was lost may have
// happened) and drops them after a ROLLBACK.
func (s *State) End() (keys []string, global, sessionChanged bool) {
	keys = make([]string, 0, len(s.pending))
	for k := range s.pending {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	global, sessionChanged = s.global, s.sessionChanged
	*s = State{}
	return keys, global, sessionChanged
}
