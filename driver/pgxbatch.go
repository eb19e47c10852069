package driver

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/cacheops/cacheops/keys"
)

// SendBatch sends a batch. Its reads run on PostgreSQL (a batch is one
// round trip whatever the cache holds); its writes are captured like any
// other and invalidate what they wrote once the batch has been closed —
// outside a transaction PostgreSQL commits a batch as one implicit
// transaction at its end, so an earlier invalidation could be refilled with
// the rows it replaces. end, when set, is called once the batch is closed
// or, when it began a transaction (Batch.BeginTx), once that has ended.
func (n *PgxConn) SendBatch(ctx context.Context, b *pgx.Batch, end func()) pgx.BatchResults {
	c := n.c
	c.catchUp(ctx)
	br := &pgxBatch{n: n, ctx: ctx, b: b}
	shadow := &pgx.Batch{}
	queued := b.QueuedQueries
	opts := batchTxOptions(b)
	if opts != nil {
		// The same BEGIN as the caller's first query, and pgx's Tx for it.
		shadow.BeginTx(*opts)
	}
	for i, qq := range queued {
		k, err := n.newCall(ctx, qq.SQL, qq.Arguments, true)
		if err != nil {
			if end != nil {
				end()
			}
			return pgx.FailedBatchResults(b, err)
		}
		p := c.plan(ctx, k.text)
		item := &batchItem{k: k, p: p, capt: p.capture(), outcome: errNotRun}
		sql := k.sql
		if item.capt != nil {
			sql = item.capt.SQL
		}
		br.items = append(br.items, item)
		if opts == nil || i > 0 {
			shadow.QueuedQueries = append(shadow.QueuedQueries, &pgx.QueuedQuery{SQL: sql, Arguments: k.args()})
		}
		c.cfg.stats.Passthrough.Add(1)
	}
	br.raw = n.conn.SendBatch(ctx, shadow)
	if tx := br.raw.Tx(); tx != nil {
		br.tx = &PgxTx{n: n, parent: tx, outer: true, end: end}
	} else {
		br.end = end
	}
	return br
}

// errNotRun marks a batch statement whose result was never read: it ran if
// the batch did.
var errNotRun = &pgconn.PgError{Code: "cacheops-not-run"}

type batchItem struct {
	k       *pgxCall
	p       *plan
	capt    *keys.Capture
	outcome error
	// captured are the changes its rows reported (nil: none captured).
	captured []keys.Change
}

// pgxBatch reads a batch's results in order, keeping each statement's
// outcome, and applies every statement's effects in order when closed.
type pgxBatch struct {
	n      *PgxConn
	ctx    context.Context
	b      *pgx.Batch
	raw    pgx.BatchResults
	items  []*batchItem
	next   int
	err    error // a callback's error, as pgx keeps it
	closed bool
	tx     *PgxTx
	end    func()
}

// Tx is the transaction the batch began (Batch.BeginTx), or nil.
func (br *pgxBatch) Tx() pgx.Tx {
	if br.tx == nil {
		return nil
	}
	return br.tx
}

var _ pgx.BatchResults = (*pgxBatch)(nil)

func (br *pgxBatch) item() *batchItem {
	if br.next >= len(br.items) {
		return nil
	}
	br.next++
	return br.items[br.next-1]
}

func (br *pgxBatch) Exec() (pgconn.CommandTag, error) {
	it := br.item()
	if it == nil || it.capt == nil {
		tag, err := br.raw.Exec()
		if it != nil {
			it.outcome, it.captured = err, it.p.changes(it.k.named)
		}
		return tag, err
	}
	rows, err := br.Query0(it)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	for rows.Next() {
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return pgconn.CommandTag{}, err
	}
	return rows.CommandTag(), nil
}

func (br *pgxBatch) Query() (pgx.Rows, error) {
	return br.Query0(br.item())
}

// Query0 reads it's result as rows.
func (br *pgxBatch) Query0(it *batchItem) (pgx.Rows, error) {
	rows, err := br.raw.Query()
	if it == nil {
		return rows, err
	}
	it.outcome = err
	if err != nil {
		return rows, err
	}
	if it.capt != nil {
		log := newCaptureLog(br.ctx, br.n.c, it.p, it.capt)
		log.apply = func(outcome error, changes []keys.Change) { it.outcome, it.captured = outcome, changes }
		return newPgxCaptureRows(rows, log), nil
	}
	changes := it.p.changes(it.k.named)
	return &pgxHookRows{Rows: rows, done: func(err error) { it.outcome, it.captured = err, changes }}, nil
}

func (br *pgxBatch) QueryRow() pgx.Row {
	rows, err := br.Query()
	return &pgxRow{rows: rows, err: err}
}

// Close reads what was not read (running the batch's callbacks, as pgx
// does), ends the batch, then applies every statement's effects in order.
func (br *pgxBatch) Close() error {
	if br.closed {
		return br.err
	}
	for br.err == nil && br.next < len(br.items) {
		if fn := br.b.QueuedQueries[br.next].Fn; fn != nil {
			br.err = fn(br)
		} else {
			_, _ = br.Exec()
		}
	}
	br.closed = true
	err := br.raw.Close()
	if br.err == nil {
		br.err = err
	}
	defer func() {
		if br.end != nil {
			br.end()
			br.end = nil
		}
	}()
	c := br.n.c
	for _, it := range br.items {
		outcome := it.outcome
		switch {
		case outcomeUnknown(err):
			// The batch's end was lost: every statement may have run.
			outcome, it.captured = err, nil
		case outcome == errNotRun:
			outcome, it.captured = err, nil // it ran if the batch did
		}
		c.after(br.ctx, it.p, outcome, it.captured)
	}
	if br.tx != nil && !c.tx.Active() {
		// The BEGIN failed: the transaction is over, its end due now.
		br.tx.closed = true
		br.tx.ended()
	}
	return br.err
}
