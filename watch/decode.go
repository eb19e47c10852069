package watch

import (
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/cacheops/cacheops/catalog"
	"github.com/cacheops/cacheops/keys"
)

// txn collects one transaction's changes, by relation OID.
type txn struct {
	rows  map[uint32][]map[string]any
	wide  map[uint32]bool
	count int
	// ddl: the transaction ran DDL (the event trigger's message).
	ddl bool
	// probe is the Redis time a probe's message carried (0: none).
	probe int64
	// committed is when the transaction committed (PostgreSQL's clock).
	committed time.Time
}

// maxRows bounds the rows a transaction keeps per relation; past it the
// relation goes whole.
const maxRows = 1000

func (t *txn) reset() {
	*t = txn{rows: map[uint32][]map[string]any{}, wide: map[uint32]bool{}}
}

// row records one row image of a relation.
func (t *txn) row(oid uint32, img map[string]any) {
	if t.wide[oid] {
		return
	}
	if len(t.rows[oid]) >= maxRows {
		t.wide[oid] = true
		delete(t.rows, oid)
		return
	}
	t.rows[oid] = append(t.rows[oid], img)
}

// image reads a tuple as column values, decoded from PostgreSQL's text
// form with pgx's types (as a reader's arguments are), leaving out what the
// tuple does not carry (unchanged TOAST values).
func image(types *pgtype.Map, rel *pglogrepl.RelationMessage, tuple *pglogrepl.TupleData) map[string]any {
	img := map[string]any{}
	if tuple == nil {
		return img
	}
	for i, col := range tuple.Columns {
		if i >= len(rel.Columns) {
			break
		}
		c := rel.Columns[i]
		switch col.DataType {
		case 'n':
			img[c.Name] = nil
		case 't':
			if dt, ok := types.TypeForOID(c.DataType); ok {
				if v, err := dt.Codec.DecodeValue(types, c.DataType, pgtype.TextFormatCode, col.Data); err == nil {
					img[c.Name] = v
					continue
				}
			}
			img[c.Name] = string(col.Data) // text, enums, domains
		}
	}
	return img
}

// keyOnly keeps the replica identity's columns of an image: what an UPDATE
// that did not change them says of the old row.
func keyOnly(rel *pglogrepl.RelationMessage, img map[string]any) map[string]any {
	out := map[string]any{}
	for _, c := range rel.Columns {
		if c.Flags&1 != 0 {
			if v, ok := img[c.Name]; ok {
				out[c.Name] = v
			}
		}
	}
	return out
}

// changes turns a transaction into the changes to invalidate; global when
// a relation is not in the catalog (the whole database goes).
func (t *txn) changes(cat *catalog.Catalog) (out []keys.Change, global bool) {
	if cat == nil {
		return nil, t.count > 0
	}
	for oid := range t.wide {
		rel := cat.Relation(oid)
		if rel == nil {
			return nil, true
		}
		for _, f := range cat.Closure([]*catalog.Relation{rel}, family) {
			out = append(out, keys.Change{Rel: f.Key(), Wide: true})
		}
	}
	for oid, rows := range t.rows {
		rel := cat.Relation(oid)
		if rel == nil {
			return nil, true
		}
		ch, err := keys.RelationRowChanges(cat, rel, rows)
		if err != nil {
			return nil, true
		}
		out = append(out, ch...)
	}
	return out, false
}

// family: a partition's rows are its parents' rows too. (Cascaded writes
// arrive as rows of their own.)
func family(x *catalog.Relation) []uint32 {
	return append(append([]uint32(nil), x.Parents...), x.Children...)
}
