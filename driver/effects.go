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
// session changes. err is the statement's outcome.
func (c *Conn) after(ctx context.Context, p *plan, err error) {
	if !p.effects && err == nil {
		return
	}
	if len(p.Steps) > 1 {
		c.afterMulti(ctx, p, err)
		return
	}
	rereadSession := false
	for _, s := range p.Steps {
		if c.applyStep(ctx, s, err) {
			rereadSession = true
		}
	}
	if err != nil && c.tx.Active() {
		c.tx.MarkFailed() // PostgreSQL now rejects all but ROLLBACK
	}
	if err != nil || p.Steps[0].Kind == keys.KindTxn || p.Steps[0].Kind == keys.KindUnknown {
		c.reconcileTx(ctx)
	}
	c.rereadSession(ctx, rereadSession)
}

// reconcileTx checks the transaction state against the server's, where the
// wrapped driver can tell, and errs on the safe side where they disagree: a
// transaction the server ended has its queue invalidated; one it has open
// that was not seen starting bypasses the cache.
func (c *Conn) reconcileTx(ctx context.Context) {
	switch status := c.serverTxStatus(); {
	case status == 0:
	case status == 'I' && c.tx.Active():
		rels, global, changed := c.tx.End()
		c.cfg.invalidate(ctx, c.sess.db.invalidationStamps(rels, global))
		c.rereadSession(ctx, changed)
	case status != 'I' && !c.tx.Active():
		c.tx.Begin("", c.sess.defaultIsolation)
		c.tx.Queue(nil, false) // unseen: treat as dirty
		if status == 'E' {
			c.tx.MarkFailed()
		}
	}
}

// applyStep applies one statement's effect and reports whether the session
// must be re-read.
func (c *Conn) applyStep(ctx context.Context, s keys.Step, err error) bool {
	db := c.sess.db
	switch s.Kind {
	case keys.KindTxn:
		return c.applyTxn(ctx, s, err)
	case keys.KindSession:
		if s.Isolation != "" && err == nil && c.tx.Active() {
			c.tx.SetIsolation(s.Isolation, "")
		}
	case keys.KindDDL:
		db.schemaChanged()
	}
	if s.Kind == keys.KindWrite || s.Kind == keys.KindDDL || s.Kind == keys.KindUnknown || s.Global {
		switch {
		case c.tx.Active():
			c.tx.Queue(s.Invalidate, s.Global)
		case !rejected(err):
			c.cfg.invalidate(ctx, db.invalidationStamps(s.Invalidate, s.Global))
		}
	}
	return s.SessionChange
}

func (c *Conn) applyTxn(ctx context.Context, s keys.Step, err error) bool {
	db := c.sess.db
	switch s.Txn {
	case keys.TxnBegin:
		if err == nil && !c.tx.Active() {
			c.tx.Begin(s.Isolation, c.sess.defaultIsolation)
		}
	case keys.TxnCommit:
		// Invalidate whatever COMMIT answered: a commit whose reply was lost
		// may have happened.
		snapshot := c.tx
		rels, global, changed := c.tx.End()
		c.cfg.invalidate(ctx, db.invalidationStamps(rels, global))
		if s.Chain && err == nil {
			c.tx = snapshot
			c.tx.Chain()
		}
		return changed
	case keys.TxnRollback, keys.TxnPrepare:
		// A prepared transaction's writes become visible at COMMIT PREPARED,
		// which invalidates the whole database.
		snapshot := c.tx
		_, _, changed := c.tx.End()
		if s.Chain && err == nil {
			c.tx = snapshot
			c.tx.Chain()
		}
		return changed
	case keys.TxnRollbackTo:
		if err == nil {
			c.tx.RolledBackToSavepoint()
		}
	case keys.TxnCommitPrepared:
		if !rejected(err) {
			c.cfg.invalidate(ctx, db.invalidationStamps(nil, true))
		}
	}
	return false
}

// afterMulti handles a multi-statement string. When it succeeded every step
// ran in order. When it failed it is unknown how far it got: everything it
// could have written is invalidated now, and the transaction state is taken
// from the server where the driver can say.
func (c *Conn) afterMulti(ctx context.Context, p *plan, err error) {
	reread := false
	if err == nil {
		for _, s := range p.Steps {
			reread = c.applyStep(ctx, s, nil) || reread
		}
		c.rereadSession(ctx, reread)
		return
	}
	var rels []string
	global := false
	for _, s := range p.Steps {
		rels = append(rels, s.Invalidate...)
		global = global || s.Global || s.Kind == keys.KindUnknown || s.Kind == keys.KindDDL
		reread = reread || s.SessionChange
		if s.Kind == keys.KindDDL {
			c.sess.db.schemaChanged()
		}
	}
	c.cfg.invalidate(ctx, c.sess.db.invalidationStamps(rels, global)) // what ran may have committed
	c.reconcileTx(ctx)
	if c.tx.Active() {
		c.tx.Queue(rels, global) // and again at COMMIT, if it commits
		c.tx.MarkFailed()
	}
	c.rereadSession(ctx, reread)
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
