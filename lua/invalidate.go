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

// InvalidateChecked deletes stamps, any number of them: in one script call
// per slot and per MaxStampsPerCall stamps, all in one pipeline. Deleting is
// idempotent, so what failed is simply sent again: the stamps of the calls
// that failed come back as undelivered (all of them, when the round trip
// failed). Each check is read before anything of its slot is deleted;
// stale lists those known not to hold; the checks of a call that failed
// are in neither list.
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
	var calls []*call
	var owned [][]string // the stamps each call deletes
	var checked [][]int  // the checks each call makes
	for _, p := range parts {
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
	for i, c := range calls {
		reply, cerr := c.cmd.Slice()
		if cerr != nil {
			undelivered = append(undelivered, owned[i]...)
			continue
		}
		for _, r := range reply {
			st, ok := staleOf(r, checked[i], checks)
			if !ok {
				return nil, stamps, ErrBadReply // not this script's reply: deliver it all again
			}
			stale = append(stale, st)
		}
	}
	return stale, undelivered, err
}

// staleOf reads one failed check of a call's reply: {i} or {i, ok,
// members...} (i 1-based among the call's checks, mine).
func staleOf(r any, mine []int, checks []Check) (Stale, bool) {
	a, ok := r.([]any)
	if !ok || len(a) == 0 {
		return Stale{}, false
	}
	i, ok := a[0].(int64)
	if !ok || i < 1 || int(i) > len(mine) {
		return Stale{}, false
	}
	st := Stale{Check: mine[i-1]}
	if checks[st.Check].Size == -1 {
		return st, len(a) == 1
	}
	if len(a) < 2 {
		return Stale{}, false
	}
	if isSet, _ := a[1].(int64); isSet != 1 {
		st.Set.Size = -1 // another type under the key: matches no set
		return st, true
	}
	st.Set.Size = len(a) - 2
	for _, m := range a[2:] {
		m, ok := m.(string)
		switch {
		case !ok:
			return Stale{}, false
		case strings.HasPrefix(m, "\x00"):
			st.Set.Marker = m
		default:
			st.Set.Schemes = append(st.Set.Schemes, m)
		}
	}
	return st, st.Set.Size == 0 || st.Set.Marker != ""
}
