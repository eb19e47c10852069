package driver

import (
	"context"

	"github.com/cacheops/cacheops/keys"
	"github.com/cacheops/cacheops/lua"
)

// schemesCopy is a relation's schemes set as this process last read it,
// with each scheme's columns split once.
type schemesCopy struct {
	lua.SchemesSet
	cols [][]string
}

// schemesOf returns the copy of each change's relation's schemes set,
// reading those it has none of in one round trip. A copy may be out of
// date: the invalidation that uses it checks it, and a failed check brings
// the set as it is (rememberSchemes).
func (d *database) schemesOf(ctx context.Context, store *lua.Store, changes []keys.Change) ([]*schemesCopy, error) {
	out := make([]*schemesCopy, len(changes))
	var missing []int
	var sets []string
	for i, c := range changes {
		if v, ok := d.schemes.Load(c.Rel); ok {
			out[i] = v.(*schemesCopy)
			continue
		}
		missing = append(missing, i)
		sets = append(sets, d.schemesSet(c.Rel))
	}
	if len(missing) == 0 {
		return out, nil
	}
	if store == nil {
		return nil, ErrNoRedis
	}
	read, err := store.Schemes(ctx, sets)
	if err != nil {
		return nil, err
	}
	for j, i := range missing {
		out[i] = d.rememberSchemes(changes[i].Rel, read[j])
	}
	return out, nil
}

// rememberSchemes keeps a relation's schemes set as just read.
func (d *database) rememberSchemes(rel string, set lua.SchemesSet) *schemesCopy {
	cp := &schemesCopy{SchemesSet: set, cols: make([][]string, len(set.Schemes))}
	for k, scheme := range set.Schemes {
		cp.cols[k] = keys.SchemeColumns(scheme)
	}
	d.schemes.Store(rel, cp)
	return cp
}
