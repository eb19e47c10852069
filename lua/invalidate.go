package lua

import "context"

// MaxStampsPerCall bounds the stamps one invalidation script call deletes:
// a bigger invalidation is sent as several calls in one pipeline (one round
// trip), so no request grows without bound.
const MaxStampsPerCall = 4096

// Check asks the invalidation to report whether a schema stamp still holds
// the token the writer's catalog was read under.
type Check struct {
	Key, Token string
}

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
// current is false when one of them no longer holds its token: the writer
// planned with an old catalog.
func (s *Store) InvalidateChecked(ctx context.Context, checks []Check, stamps []string) (current bool, undelivered []string, err error) {
	if len(stamps) == 0 && len(checks) == 0 {
		return true, nil, nil
	}
	rdb, cluster := s.client.get()
	type part struct {
		checks []Check
		stamps []string
	}
	var parts []part
	if !cluster {
		parts = []part{{checks, stamps}}
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
		for _, c := range checks {
			i := slotOf(c.Key)
			parts[i].checks = append(parts[i].checks, c)
		}
		for _, k := range stamps {
			i := slotOf(k)
			parts[i].stamps = append(parts[i].stamps, k)
		}
	}
	var calls []*call
	var owned [][]string // the stamps each call deletes
	for _, p := range parts {
		first := true
		for i := 0; first || i < len(p.stamps); i += MaxStampsPerCall {
			chunk := p.stamps[i:min(i+MaxStampsPerCall, len(p.stamps))]
			keys, args := chunk, []any{0}
			if first && len(p.checks) > 0 {
				keys = make([]string, 0, len(p.checks)+len(chunk))
				args = []any{len(p.checks)}
				for _, c := range p.checks {
					keys = append(keys, c.Key)
					args = append(args, c.Token)
				}
				keys = append(keys, chunk...)
			}
			first = false
			calls = append(calls, &call{script: invalidateScript, keys: keys, args: args})
			owned = append(owned, chunk)
		}
	}
	if s.waitReplicas > 0 {
		err = s.runAllWaited(ctx, rdb, cluster, calls)
	} else {
		err = s.runAll(ctx, rdb, calls)
	}
	current = true
	for i, c := range calls {
		n, cerr := c.cmd.Int()
		if cerr != nil {
			undelivered = append(undelivered, owned[i]...)
			current = false
		} else if n != 1 {
			current = false
		}
	}
	return current, undelivered, err
}
