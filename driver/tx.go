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
	t.conn.rereadSession(contextBackground(), t.conn.endTx(contextBackground(), true, err))
	return err
}

// Rollback rolls back and drops the queued invalidations.
func (t *Tx) Rollback() error {
	err := t.parent.Rollback()
	t.conn.rereadSession(contextBackground(), t.conn.endTx(contextBackground(), false, err))
	return err
}
