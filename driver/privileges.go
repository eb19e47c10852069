package driver

import (
	"context"
	"strconv"
	"sync"

	"github.com/cacheops/cacheops/catalog"
)

// privileges caches, per role and relation, the columns the role may read:
// a write's hidden RETURNING must ask for no other. Cleared with the plans
// (GRANT and REVOKE are schema changes).
type privileges struct {
	mu   sync.Mutex
	cols map[string]map[string]bool // role NUL relation key → columns
}

func (p *privileges) get(key string) (map[string]bool, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	c, ok := p.cols[key]
	return c, ok
}

func (p *privileges) put(key string, cols map[string]bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cols == nil {
		p.cols = map[string]map[string]bool{}
	}
	p.cols[key] = cols
}

func (p *privileges) forget() {
	p.mu.Lock()
	p.cols = nil
	p.mu.Unlock()
}

// selectable returns the columns of rel the connection's current role may
// read. It asks PostgreSQL only outside a transaction (a failing query there
// would abort the caller's); inside one, an unknown answer is reported as
// such and the write is planned without a capture.
func (c *Conn) selectable(rel *catalog.Relation) (map[string]bool, bool) {
	key := c.sess.keys.User + "\x00" + rel.Key()
	db := c.sess.db
	if cols, ok := db.privileges.get(key); ok {
		return cols, true
	}
	if c.tx.Active() {
		return nil, false
	}
	oid := strconv.FormatUint(uint64(rel.OID), 10)
	rows, err := c.QueryAll(context.Background(), `SELECT a.attname::text FROM pg_attribute a
WHERE a.attrelid = `+oid+` AND a.attnum > 0 AND NOT a.attisdropped
  AND has_column_privilege(`+oid+`::oid, a.attnum, 'SELECT')`)
	cols := map[string]bool{}
	if err == nil {
		for _, row := range rows {
			if s, ok := row[0].(string); ok {
				cols[s] = true
			}
		}
	}
	db.privileges.put(key, cols) // on error: nothing captured, never a failed write
	return cols, true
}
