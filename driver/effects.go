package driver

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"

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
	reread := c.applyStep(ctx, p, s, err, captured)
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
// must be re-read. A statement the server rejected changed nothing, unless
// it may have committed inside (CALL, DO). One whose outcome is unknown (the
// connection failed, the caller gave up while rows were read) may have
// changed everything it could touch: its relations go whole, now and again
// after AmbiguousDelay, for a commit that becomes visible late.
func (c *Conn) applyStep(ctx context.Context, p *plan, s keys.Step, err error, captured []keys.Change) bool {
	unknown := outcomeUnknown(err)
	ran := err == nil || unknown || s.CommitsInside
	switch s.Kind {
	case keys.KindTxn:
		return c.applyTxn(ctx, s, err)
	case keys.KindSession:
		if s.Isolation != "" && err == nil && c.tx.Active() {
			c.tx.SetIsolation(s.Isolation, "")
		}
	}
	if s.Schema && ran {
		c.sess.db.schemaChanged()
	}
	if isWrite(s) {
		changes := captured
		if changes == nil || unknown {
			changes = s.Changes()
		}
		switch {
		case c.tx.Active():
			c.tx.Queue(changes, s.Global, p.schemaToken)
		case unknown:
			c.cfg.invalidateAmbiguous(ctx, c.sess.db, changes, s.Global, p.schemaToken)
		case ran:
			c.cfg.invalidate(ctx, c.sess.db, changes, s.Global, p.schemaToken)
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
		changed := c.endTx(ctx, s.Txn == keys.TxnCommit, err)
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
			c.cfg.invalidate(ctx, c.sess.db, nil, true, "")
		}
	}
	return false
}

// endTx closes the transaction state, invalidating its queue when it
// committed (err is COMMIT's outcome: when unknown, the commit may become
// visible later than its error, so the queue is invalidated again after a
// delay), and reports whether the session must be re-read.
func (c *Conn) endTx(ctx context.Context, commit bool, err error) bool {
	changes, global, token, changed := c.tx.End()
	if !commit {
		return changed
	}
	if outcomeUnknown(err) {
		c.cfg.invalidateAmbiguous(ctx, c.sess.db, changes, global, token)
	} else {
		c.cfg.invalidate(ctx, c.sess.db, changes, global, token)
	}
	for _, ch := range changes {
		if ch.Rel == keys.SchemaKey {
			// The DDL is visible to everyone now: a catalog read while the
			// transaction was open may not show it.
			c.sess.db.schemaChanged()
		}
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
			reread = c.applyStep(ctx, p, s, nil, nil) || reread
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
		if s.Schema {
			c.sess.db.schemaChanged()
		}
	}
	// What ran may have committed.
	if outcomeUnknown(err) {
		c.cfg.invalidateAmbiguous(ctx, c.sess.db, changes, global, p.schemaToken)
	} else {
		c.cfg.invalidate(ctx, c.sess.db, changes, global, p.schemaToken)
	}
	c.reconcileTx(ctx)
	if c.tx.Active() {
		c.tx.Queue(changes, global, p.schemaToken) // and again at COMMIT, if it commits
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
		c.rereadSession(ctx, c.endTx(ctx, true, nil))
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
// in autocommit it then changed nothing (but see CommitsInside).
func rejected(err error) bool {
	var pgErr *pgconn.PgError
	return err != nil && errors.As(err, &pgErr)
}

// outcomeUnknown reports whether a statement failed without the server
// saying so: the connection broke, or the caller's context ended while the
// statement ran or its rows were read. It may have committed. Only the
// server's own error proves the outcome: pgx reports a COMMIT whose reply was
// lost as "conn closed", safe to retry, although the COMMIT was sent.
func outcomeUnknown(err error) bool {
	return err != nil && err != io.EOF && err != driver.ErrSkip && !rejected(err) //nolint:errorlint // sentinel values
}

// serverTxStatus asks the wrapped connection for the transaction status of
// its last ReadyForQuery ('I', 'T', 'E'), or 0 when it cannot say.
func (c *Conn) serverTxStatus() byte {
	if pc, ok := c.parent.(interface{ Conn() *pgx.Conn }); ok {
		return pc.Conn().PgConn().TxStatus()
	}
	return 0
}
