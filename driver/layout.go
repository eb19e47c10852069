package driver

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/cacheops/cacheops/keys"
	"github.com/cacheops/cacheops/lua"
)

// buckets is the number of hash tags a database's keys are spread over.
// Every key of a relation (its stamps and schemes set) carries its bucket's
// tag, so a relation's keys share a Redis Cluster slot and the scripts of
// one relation run on one node, while a database's relations spread over
// the cluster. The database-wide stamps (global and schema) have a copy per
// bucket: an entry depends on the copies of its relations' buckets, so no
// key is read by every hit, and global invalidation deletes every copy.
const buckets = 256

// layout is a database's key names, built once.
type layout struct {
	id   string
	tags [buckets]string // Prefix + "{tag}": what every key of a bucket starts with
	// globalStamps and schemaStamps are the per-bucket copies of the stamps
	// every entry depends on: global invalidation deletes every global
	// copy, a schema change every schema copy as well.
	globalStamps [buckets]string
	schemaStamps [buckets]string
}

// CheckPrefix refuses a key prefix under which a database's keys could not
// share hash slots: one whose first "{" is followed at once by "}" makes
// Redis Cluster hash every key whole. A prefix holding a complete tag
// ("app{x}:") puts every key in one slot: correct, with no spread.
func CheckPrefix(prefix string) error {
	if i := strings.IndexByte(prefix, '{'); i >= 0 && strings.HasPrefix(prefix[i+1:], "}") {
		return fmt.Errorf("cacheops: prefix %q: an empty hash tag \"{}\" would spread a step's keys over slots", prefix)
	}
	return nil
}

func newLayout(id, prefix string) layout {
	l := layout{id: id}
	// The tag hashes the database identity and the bucket, so braces or any
	// other byte in names never reach it, and two databases spread apart.
	dbHash := fnv32(id)
	for b := range l.tags {
		tag := strconv.FormatUint(uint64(dbHash), 36) + "." + strconv.Itoa(b)
		l.tags[b] = prefix + "{" + tag + "}"
		// No relation key can be "*": relation keys are quoted identifiers.
		l.globalStamps[b] = l.tags[b] + "s:" + id + ":*"
		l.schemaStamps[b] = l.tags[b] + "s:" + id + ":" + keys.SchemaKey
	}
	return l
}

// fnv32 is FNV-1a over the strings, each followed by a zero byte; inline,
// as it runs on the read path and must not allocate.
func fnv32(ss ...string) uint32 {
	h := uint32(2166136261)
	for _, s := range ss {
		for i := 0; i < len(s); i++ {
			h = (h ^ uint32(s[i])) * 16777619
		}
		h *= 16777619 // the zero byte
	}
	return h
}

// bucket returns a relation's bucket.
func (l *layout) bucket(rel string) int { return int(fnv32(l.id, rel) % buckets) }

// stamp returns a relation's table stamp key.
func (l *layout) stamp(rel string) string {
	var buf [128]byte
	return string(l.appendStamp(buf[:0], rel))
}

func (l *layout) appendStamp(b []byte, rel string) []byte {
	b = append(append(b, l.tags[l.bucket(rel)]...), "s:"...)
	return append(append(append(b, l.id...), ':'), rel...)
}

// Keys derived from a relation's stamp key. Relation keys end in a quote, so
// these suffixes cannot make another relation's key.
func (l *layout) conjStamp(rel, scheme string, values []string) string {
	var buf [192]byte
	return string(keys.AppendConjID(append(l.appendStamp(buf[:0], rel), ":c:"...), scheme, values))
}

func (l *layout) schemeStamp(rel, scheme string) string {
	var buf [192]byte
	return string(keys.AppendConjID(append(l.appendStamp(buf[:0], rel), ":k:"...), scheme, nil))
}

func (l *layout) schemesSet(rel string) string { return l.stamp(rel) + ":schemes" }

// wholeStamps are the stamps that invalidate a relation whole: its table
// stamp, or for the schema pseudo-relation every schema copy.
func (l *layout) wholeStamps(out []string, rel string) []string {
	if rel == keys.SchemaKey {
		return append(out, l.schemaStamps[:]...)
	}
	return append(out, l.stamp(rel))
}

// schemaToken returns a catalog token's part for a bucket: the token its
// schema copy held when the catalog was read. A token that is not a full
// set (read while Redis did not answer, or mixed in a transaction) matches
// no stamp.
func schemaToken(token string, b int) string {
	if len(token) != buckets*lua.TokenLen {
		return "\x01"
	}
	return token[b*lua.TokenLen : (b+1)*lua.TokenLen]
}

// checks are the schema copies a write planned under token must find
// unchanged: those of the buckets of the relations it changed.
func (l *layout) checks(changes []keys.Change, token string) []lua.Check {
	var out []lua.Check
	seen := map[int]bool{}
	for _, c := range changes {
		if c.Rel == keys.SchemaKey {
			continue
		}
		if b := l.bucket(c.Rel); !seen[b] {
			seen[b] = true
			out = append(out, lua.SchemaCheck(l.schemaStamps[b], schemaToken(token, b)))
		}
	}
	return out
}
