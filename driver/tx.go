package driver

import "database/sql/driver"

var _ driver.Tx = (*Tx)(nil)

// Tx is a transaction begun with BeginTx.
type Tx struct {
	conn   *Conn
	parent driver.Tx
}

// Commit commits, then runs the invalidations the transaction queued before
// returning, so that every read that starts after Commit returns sees the
// write. It invalidates whatever the commit answered: a commit whose reply was
// lost may have happened.
func (t *Tx) Commit() error {
	err := t.parent.Commit()
	c := t.conn
	rels, global, changed := c.tx.End()
	c.cfg.invalidate(contextBackground(), c.sess.db.invalidationStamps(rels, global))
	c.rereadSession(contextBackground(), changed)
	return err
}

// Rollback rolls back and drops the queued invalidations.
func (t *Tx) Rollback() error {
	err := t.parent.Rollback()
	_, _, changed := t.conn.tx.End()
	t.conn.rereadSession(contextBackground(), changed)
	return err
}
