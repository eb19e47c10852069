package driver

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cacheops/cacheops/keys"
)

// after applies a finished statement's effects: transaction state,
// invalidations (now in autocommit, queued inside a transaction), schema and
// session changes. err is the statement's outcome; captured holds the
// changes a captured write reported (nil: its relations go whole).
func (c *Conn) after(ctx context.Context, p *plan, err error, captured []keys.Change) {
	if !p.effects && err == nil {
		return
	}
	if len(p.Steps) > 1 {
		c.afterMulti(ctx, p, err)
		return
	}
	s := p.Steps[0]
	reread := c.applyStep(ctx, s, err, captured)
	if err != nil && c.tx.Active() {
		c.tx.MarkFailed() // PostgreSQL now rejects all but ROLLBACK
	}
	if err != nil || s.Kind == keys.KindTxn || s.Kind == keys.KindUnknown {
		c.reconcileTx(ctx)
	}
	c.rereadSession(ctx, reread)
}

func isWrite(s keys.Step) bool {
	return s.Kind == keys.KindWrite || s.Kind == keys.KindDDL || s.Kind == keys.KindUnknown || s.Global
}

// applyStep applies one statement's effect and reports whether the session
// must be re-read.
func (c *Conn) applyStep(ctx context.Context, s keys.Step, err error, captured []keys.Change) bool {
	switch s.Kind {
	case keys.KindTxn:
		return c.applyTxn(ctx, s, err)
	case keys.KindSession:
		if s.Isolation != "" && err == nil && c.tx.Active() {
			c.tx.SetIsolation(s.Isolation, "")
		}
	case keys.KindDDL:
		c.sess.db.schemaChanged()
	}
	if isWrite(s) {
		changes := captured
		if changes == nil {
			changes = s.Changes()
		}
		switch {
		case c.tx.Active():
			c.tx.Queue(changes, s.Global)
		case !rejected(err):
			c.cfg.invalidate(ctx, c.sess.db, changes, s.Global)
		}
	}
	return s.SessionChange
}

func (c *Conn) applyTxn(ctx context.Context, s keys.Step, err error) bool {
	switch s.Txn {
	case keys.TxnBegin:
		if err == nil && !c.tx.Active() {
			c.tx.Begin(s.Isolation, c.sess.defaultIsolation)
		}
	case keys.TxnCommit, keys.TxnRollback, keys.TxnPrepare:
		// COMMIT invalidates whatever it answered: a commit whose reply was
		// lost may have happened. A prepared transaction's writes become
		// visible at COMMIT PREPARED, which invalidates the whole database.
		ended := c.tx
		changed := c.endTx(ctx, s.Txn == keys.TxnCommit)
		if s.Chain && err == nil {
			c.tx = ended
			c.tx.Chain()
		}
		return changed
	case keys.TxnRollbackTo:
		if err == nil {
			c.tx.RolledBackToSavepoint()
		}
	case keys.TxnCommitPrepared:
		if !rejected(err) {
			c.cfg.invalidate(ctx, c.sess.db, nil, true)
		}
	}
	return false
}

// endTx closes the transaction state, invalidating its queue when it
// committed, and reports whether the session must be re-read.
func (c *Conn) endTx(ctx context.Context, commit bool) bool {
	changes, global, changed := c.tx.End()
	if commit {
		c.cfg.invalidate(ctx, c.sess.db, changes, global)
	}
	return changed
}

// afterMulti handles a multi-statement string. When it succeeded every step
// ran in order. When it failed it is unknown how far it got: everything it
// could have written is invalidated now, and the transaction state is taken
// from the server where the driver can say.
func (c *Conn) afterMulti(ctx context.Context, p *plan, err error) {
	reread := false
	if err == nil {
		for _, s := range p.Steps {
			reread = c.applyStep(ctx, s, nil, nil) || reread
		}
		c.rereadSession(ctx, reread)
		return
	}
	var changes []keys.Change
	global := false
	for _, s := range p.Steps {
		changes = append(changes, s.Changes()...)
		global = global || s.Global || s.Kind == keys.KindUnknown || s.Kind == keys.KindDDL
		reread = reread || s.SessionChange
		if s.Kind == keys.KindDDL {
			c.sess.db.schemaChanged()
		}
	}
	c.cfg.invalidate(ctx, c.sess.db, changes, global) // what ran may have committed
	c.reconcileTx(ctx)
	if c.tx.Active() {
		c.tx.Queue(changes, global) // and again at COMMIT, if it commits
		c.tx.MarkFailed()
	}
	c.rereadSession(ctx, reread)
}

// reconcileTx checks the transaction state against the server's, where the
// wrapped driver can tell, and errs on the safe side where they disagree: a
// transaction the server ended has its queue invalidated; one it has open
// that was not seen starting bypasses the cache.
func (c *Conn) reconcileTx(ctx context.Context) {
	switch status := c.serverTxStatus(); {
	case status == 0:
	case status == 'I' && c.tx.Active():
		c.rereadSession(ctx, c.endTx(ctx, true))
	case status != 'I' && !c.tx.Active():
		c.tx.Begin("", c.sess.defaultIsolation)
		c.tx.Dirty() // unseen: its writes are unknown
		if status == 'E' {
			c.tx.MarkFailed()
		}
	}
}

// rereadSession re-reads the namespace when asked. Inside a transaction it
// only stops cache use: no extra statement ever runs in the caller's
// transaction; the re-read happens when it ends.
func (c *Conn) rereadSession(ctx context.Context, needed bool) {
	if !needed {
		return
	}
	if c.tx.Active() {
		c.tx.MarkSessionChanged()
		c.sess.ok = false
		return
	}
	_ = c.readSession(ctx)
}

// rejected reports whether the server answered the statement with an error:
// in autocommit it then changed nothing.
func rejected(err error) bool {
	var pgErr *pgconn.PgError
	return err != nil && errors.As(err, &pgErr)
}

// serverTxStatus asks the wrapped connection for the transaction status of
// its last ReadyForQuery ('I', 'T', 'E'), or 0 when it cannot say.
func (c *Conn) serverTxStatus() byte {
	if pc, ok := c.parent.(interface{ Conn() *pgx.Conn }); ok {
		return pc.Conn().PgConn().TxStatus()
	}
	return 0
}
