package lua

import (
	"context"
	"strings"

	"github.com/redis/go-redis/v9"
)

// MaxStampsPerCall bounds the stamps one invalidation script call deletes:
// a bigger invalidation is sent as several calls in one pipeline (one round
// trip), so no request grows without bound.
const MaxStampsPerCall = 4096

// Check asks the invalidation to report whether a key is as the writer last
// read it: a schema stamp (SchemaCheck) or a schemes set (SetCheck).
type Check struct {
	Key, Token string
	// Size is -1 for a schema stamp, which must hold Token. Otherwise Key is
	// a schemes set, which must have Size members (0: not exist), Token (its
	// marker) among them; -2 when the writer has no copy of it (ReadSet).
	Size int
}

// SchemaCheck: the schema stamp key must still hold token, the one the
// writer's catalog was read under.
func SchemaCheck(key, token string) Check { return Check{Key: key, Token: token, Size: -1} }

// SetCheck: the schemes set key must still be the set the writer read.
func SetCheck(key string, set SchemesSet) Check {
	return Check{Key: key, Token: set.Marker, Size: set.Size}
}

// ReadSet fails always and so reports the schemes set key as it is.
func ReadSet(key string) Check { return Check{Key: key, Size: -2} }

// SchemesSet is a schemes set as a writer read it.
type SchemesSet struct {
	// Marker and Size identify the set and its members (SetCheck).
	Marker string
	Size   int
	// Schemes are the members but the marker; none when the set does not
	// exist (its relation must be invalidated whole).
	Schemes []string
}

// Stale is a check that failed: the writer planned with an old catalog, or
// its copy of a schemes set is out of date; Set is the set as it is now.
type Stale struct {
	Check int // an index into the checks
	Set   SchemesSet
}

// OnInvalidated makes every invalidation call fn with the stamps it was
// given, after its round trip, whatever came of it (a process' local copies
// of what the stamps guard must go once Redis has dropped the stamps: a
// lookup that began before then may bring the old ones back).
func (s *Store) OnInvalidated(fn func(stamps []string)) { s.onInvalidated.Store(&fn) }

// Invalidate deletes stamps, any number of them. It returns those that may
// not have been deleted.
func (s *Store) Invalidate(ctx context.Context, stamps []string) ([]string, error) {
	_, undelivered, err := s.InvalidateChecked(ctx, nil, stamps)
	return undelivered, err
}

// InvalidateChecked deletes stamps, any number of them, in one pipeline:
// plain commands per slot (plainCall), or, when a check must read a set
// the writer has no copy of, one script call per slot and per
// MaxStampsPerCall stamps. Deleting is idempotent, so what failed is simply
// sent again: the stamps of the calls that failed come back as undelivered
// (all of them, when the round trip failed). Each check is read before
// anything of its slot is deleted; stale lists those known not to hold,
// with the set as it is now (a big set, or one without a marker, is read
// in one more round trip); the checks of a call that failed are in neither
// list.
func (s *Store) InvalidateChecked(ctx context.Context, checks []Check, stamps []string) (stale []Stale, undelivered []string, err error) {
	if len(stamps) == 0 && len(checks) == 0 {
		return nil, nil, nil
	}
	if f := s.onInvalidated.Load(); f != nil {
		defer (*f)(stamps) // once Redis has answered (or not): see OnInvalidated
	}
	rdb, cluster := s.client.get()
	type part struct {
		checks []int // indexes into checks
		stamps []string
	}
	var parts []part
	if !cluster {
		all := make([]int, len(checks))
		for i := range all {
			all[i] = i
		}
		parts = []part{{all, stamps}}
	} else {
		at := map[int]int{}
		slotOf := func(key string) int {
			s := Slot(key)
			i, ok := at[s]
			if !ok {
				i = len(parts)
				at[s] = i
				parts = append(parts, part{})
			}
			return i
		}
		for ci, c := range checks {
			i := slotOf(c.Key)
			parts[i].checks = append(parts[i].checks, ci)
		}
		for _, k := range stamps {
			i := slotOf(k)
			parts[i].stamps = append(parts[i].stamps, k)
		}
	}
	// The script only when a set must be read whole: see plainCall.
	plain := true
	for _, c := range checks {
		plain = plain && c.Size >= -1
	}
	var calls []*call
	var owned [][]string // the stamps each call deletes
	var checked [][]int  // the checks each call makes
	for _, p := range parts {
		if plain {
			pc := &plainCall{stamps: p.stamps}
			keys := make([]string, 0, len(p.checks)+len(p.stamps))
			for _, ci := range p.checks {
				pc.checks = append(pc.checks, checks[ci])
				keys = append(keys, checks[ci].Key)
			}
			calls = append(calls, &call{keys: append(keys, p.stamps...), plain: pc})
			owned = append(owned, p.stamps)
			checked = append(checked, p.checks)
			continue
		}
		first := true
		for i := 0; first || i < len(p.stamps); i += MaxStampsPerCall {
			chunk := p.stamps[i:min(i+MaxStampsPerCall, len(p.stamps))]
			keys, args := chunk, []any{0}
			var mine []int
			if first && len(p.checks) > 0 {
				mine = p.checks
				keys = make([]string, 0, len(p.checks)+len(chunk))
				args = make([]any, 0, 2+2*len(p.checks))
				args = append(args, len(p.checks))
				for _, ci := range p.checks {
					keys = append(keys, checks[ci].Key)
					args = append(args, checks[ci].Token, checks[ci].Size)
				}
				args = append(args, "\x00"+NewToken())
				keys = append(keys, chunk...)
			}
			first = false
			calls = append(calls, &call{script: invalidateScript, keys: keys, args: args})
			owned = append(owned, chunk)
			checked = append(checked, mine)
		}
	}
	send, nodes := calls, []string(nil)
	if cluster {
		send, nodes, err = s.routeCalls(ctx, rdb.(*redis.ClusterClient), calls)
	}
	var sendErr error
	switch {
	case len(send) == 0:
	case s.waitReplicas > 0:
		sendErr = s.runAllWaited(ctx, rdb, cluster, send)
	default:
		sendErr = s.runAll(ctx, rdb, send)
	}
	if nodes != nil {
		s.recordNodes(calls, nodes)
	}
	if sendErr != nil || err == nil {
		err = sendErr // a failure of a call sent says more than a call not sent
	}
	var unreadSets []int // indexes into stale
	for i, c := range calls {
		reply, cerr := c.cmd.Slice()
		if cerr != nil {
			undelivered = append(undelivered, owned[i]...)
			continue
		}
		for _, r := range reply {
			st, isUnread, ok := staleOf(r, checked[i], checks)
			if !ok {
				return nil, stamps, ErrBadReply // not this script's reply: deliver it all again
			}
			if isUnread {
				unreadSets = append(unreadSets, len(stale))
			}
			stale = append(stale, st)
		}
	}
	if len(unreadSets) == 0 {
		return stale, undelivered, err
	}
	return s.readStale(ctx, checks, stale, unreadSets, undelivered, err)
}

// readStale reads the sets whose checks the plain commands failed, in one
// more round trip. When it fails, those checks are in neither list and the
// error is returned: the writer's copies of them are of unknown age.
func (s *Store) readStale(ctx context.Context, checks []Check, stale []Stale, unread []int, undelivered []string, err error) ([]Stale, []string, error) {
	sets := make([]string, len(unread))
	for i, at := range unread {
		sets[i] = checks[stale[at].Check].Key
	}
	read, rerr := s.Schemes(ctx, sets)
	if rerr != nil {
		kept := stale[:0]
		j := 0
		for at, st := range stale {
			if j < len(unread) && unread[j] == at {
				j++
				continue
			}
			kept = append(kept, st)
		}
		return kept, undelivered, rerr
	}
	for i, at := range unread {
		stale[at].Set = read[i]
	}
	return stale, undelivered, err
}

// staleOf reads one failed check of a call's reply: {i}, {i, ok,
// members...} or, from plain commands, {i, unread} (i 1-based among the
// call's checks, mine).
func staleOf(r any, mine []int, checks []Check) (st Stale, isUnread, ok bool) {
	a, ok := r.([]any)
	if !ok || len(a) == 0 {
		return Stale{}, false, false
	}
	i, ok := a[0].(int64)
	if !ok || i < 1 || int(i) > len(mine) {
		return Stale{}, false, false
	}
	st = Stale{Check: mine[i-1]}
	if checks[st.Check].Size == -1 {
		return st, false, len(a) == 1
	}
	if len(a) < 2 {
		return Stale{}, false, false
	}
	switch isSet, _ := a[1].(int64); isSet {
	case unread:
		return st, true, len(a) == 2
	case 1:
	default:
		st.Set.Size = -1 // another type under the key: matches no set
		return st, false, true
	}
	st.Set.Size = len(a) - 2
	for _, m := range a[2:] {
		m, ok := m.(string)
		switch {
		case !ok:
			return Stale{}, false, false
		case strings.HasPrefix(m, "\x00"):
			st.Set.Marker = m
		default:
			st.Set.Schemes = append(st.Set.Schemes, m)
		}
	}
	return st, false, st.Set.Size == 0 || st.Set.Marker != ""
}
