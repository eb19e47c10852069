package watch

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/jackc/pgx/v5/pgtype"

	cdriver "github.com/cacheops/cacheops/driver"
	"github.com/cacheops/cacheops/keys"
)

// Options name the watcher's publication and slot.
type Options struct {
	// Publication (FOR ALL TABLES) and Slot (pgoutput) are created when
	// missing. Default "cacheops" for both.
	Publication, Slot string
	// StatusEvery is how often the confirmed position is sent. Default 1 s.
	StatusEvery time.Duration
	// ProbeEvery is how often the watcher measures its lag: a probe reads
	// the Redis clock and commits a logical message carrying it; once the
	// watcher has decoded that message and delivered everything before it,
	// it publishes the time as its heartbeat, which readers compare with
	// WatchMaxLag. Default 100 ms (a tiny transaction each time).
	ProbeEvery time.Duration
	// NoDDLTrigger: do not install the event trigger that tells the watcher
	// of DDL (installing it needs a superuser); DDL made outside cacheops
	// then needs InvalidateAll.
	NoDDLTrigger bool
}

func (o Options) withDefaults() Options {
	if o.Publication == "" {
		o.Publication = "cacheops"
	}
	if o.Slot == "" {
		o.Slot = "cacheops"
	}
	if o.ProbeEvery <= 0 {
		o.ProbeEvery = 100 * time.Millisecond
	}
	if o.StatusEvery <= 0 {
		o.StatusEvery = time.Second
	}
	return o
}

// Run follows the database's committed changes on a replication
// connection (connConfig's, with replication=database) and invalidates
// them through target, until ctx ends or the connection fails (the caller
// restarts it: the slot resumes after the last confirmed transaction).
func Run(ctx context.Context, connString string, target *cdriver.WatchTarget, opts Options) error {
	opts = opts.withDefaults()
	// pgx's parser: it leaves out the settings only pgx knows (a DSN the
	// application's pool uses may carry them).
	pcfg, err := pgx.ParseConfig(connString)
	if err != nil {
		return err
	}
	cfg := &pcfg.Config
	cfg.RuntimeParams["replication"] = "database"
	conn, err := pgconn.ConnectConfig(ctx, cfg)
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "42501" { // insufficient_privilege
		return fmt.Errorf("cacheops: the watcher's role needs REPLICATION (ALTER ROLE … REPLICATION): %w", err)
	}
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	if err := setUp(ctx, conn, opts); err != nil {
		return err
	}
	err = pglogrepl.StartReplication(ctx, conn, opts.Slot, 0, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", fmt.Sprintf("publication_names '%s'", opts.Publication), "messages 'true'"},
	})
	if err != nil {
		return fmt.Errorf("cacheops: start replication on slot %s: %w", opts.Slot, err)
	}
	w := &watcher{target: target, types: pgtype.NewMap(), rels: map[uint32]*pglogrepl.RelationMessage{},
		queue: make(chan decided, queueLen), failed: make(chan error, 1)}
	w.tx.reset()
	pctx, stopHelpers := context.WithCancel(ctx)
	defer stopHelpers()
	go probe(pctx, cfg, target, opts.ProbeEvery)
	go w.deliver(pctx)
	if err := w.loop(ctx, conn, opts); err != nil {
		return streaming{err}
	}
	return nil
}

// streaming wraps an error that ended a stream that had started (nil
// when ctx ended it).
type streaming struct{ err error }

func (s streaming) Error() string { return s.err.Error() }
func (s streaming) Unwrap() error { return s.err }

// Started reports whether err ended a watcher that had set up and started
// streaming (worth restarting), rather than one that could not start.
func Started(err error) bool {
	var s streaming
	return errors.As(err, &s)
}

// Standby reports whether err says another watcher holds the slot: this
// one waits to take over (the slot admits one reader at a time, which makes
// it the leader lock: when the leader's connection ends, the next try of a
// standby takes the slot and resumes where the leader's last confirmed
// transaction ended).
func Standby(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && pgErr.Code == "55006" // object_in_use
}

// Uninstall drops the watcher's slot (which otherwise keeps WAL for a
// reader that will not come) and publication.
func Uninstall(ctx context.Context, connString string, opts Options) error {
	opts = opts.withDefaults()
	conn, err := pgconn.Connect(ctx, connString)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	sql := fmt.Sprintf(`SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '%s';
DROP PUBLICATION IF EXISTS %q; %s`, opts.Slot, opts.Publication, dropDDLTrigger)
	_, err = conn.Exec(ctx, sql).ReadAll()
	return err
}

// setUp creates the publication and the slot when missing, with the
// error PostgreSQL gives when it cannot (wal_level, privileges).
func setUp(ctx context.Context, conn *pgconn.PgConn, opts Options) error {
	// Before creating anything: a server that cannot decode is told at once.
	level, err := conn.Exec(ctx, "SHOW wal_level").ReadAll()
	if err != nil {
		return err
	}
	if len(level) == 0 || len(level[0].Rows) == 0 || string(level[0].Rows[0][0]) != "logical" {
		return errors.New("cacheops: the watcher needs wal_level = logical (postgresql.conf; a restart), and a role with REPLICATION")
	}
	rows, err := conn.Exec(ctx, fmt.Sprintf("SELECT 1 FROM pg_publication WHERE pubname = '%s'", opts.Publication)).ReadAll()
	if err != nil {
		return err
	}
	if len(rows) == 0 || len(rows[0].Rows) == 0 {
		if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE PUBLICATION %q FOR ALL TABLES", opts.Publication)).ReadAll(); err != nil {
			return fmt.Errorf("cacheops: create publication %s (needs a superuser, or CREATE on the database with every table owned): %w", opts.Publication, err)
		}
	}
	if !opts.NoDDLTrigger {
		if err := installDDLTrigger(ctx, conn); err != nil {
			return err
		}
	}
	rows, err = conn.Exec(ctx, fmt.Sprintf("SELECT 1 FROM pg_replication_slots WHERE slot_name = '%s'", opts.Slot)).ReadAll()
	if err != nil {
		return err
	}
	if len(rows) == 0 || len(rows[0].Rows) == 0 {
		_, err := pglogrepl.CreateReplicationSlot(ctx, conn, opts.Slot, "pgoutput", pglogrepl.CreateReplicationSlotOptions{})
		if err != nil {
			return fmt.Errorf("cacheops: create replication slot %s (needs wal_level = logical and a role with REPLICATION): %w", opts.Slot, err)
		}
	}
	return nil
}

type watcher struct {
	target *cdriver.WatchTarget
	types  *pgtype.Map
	rels   map[uint32]*pglogrepl.RelationMessage
	tx     txn
	// queue takes decided transactions to the deliverer; failed reports
	// why it stopped.
	queue  chan decided
	failed chan error
	// handled is the end of the last transaction whose invalidation was
	// delivered or kept (set by the deliverer); confirmed is what the
	// server was told.
	handled   atomic.Uint64
	confirmed pglogrepl.LSN
}

func (w *watcher) loop(ctx context.Context, conn *pgconn.PgConn, opts Options) error {
	next := time.Now().Add(opts.StatusEvery)
	for {
		if time.Now().After(next) {
			if err := w.status(ctx, conn); err != nil {
				return err
			}
			next = time.Now().Add(opts.StatusEvery)
		}
		rctx, cancel := context.WithDeadline(ctx, next)
		raw, err := conn.ReceiveMessage(rctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return ctx.Err()
		case pgconn.Timeout(err):
			continue
		case err != nil:
			return err
		}
		switch m := raw.(type) {
		case *pgproto3.ErrorResponse:
			return pgconn.ErrorResponseToPgError(m)
		case *pgproto3.CopyData:
			reply, err := w.copyData(ctx, m.Data)
			if err != nil {
				return err
			}
			if reply {
				next = time.Time{} // the server asks for a status now
			}
		}
	}
}

// copyData handles a message of the replication stream; reply: the server
// asks for a status update.
func (w *watcher) copyData(ctx context.Context, data []byte) (reply bool, err error) {
	if len(data) == 0 {
		return false, nil
	}
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		pkm, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return false, err
		}
		return pkm.ReplyRequested, nil
	case pglogrepl.XLogDataByteID:
		xld, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return false, err
		}
		return false, w.message(ctx, xld.WALData)
	}
	return false, nil
}

// message handles one pgoutput message.
func (w *watcher) message(ctx context.Context, data []byte) error {
	msg, err := pglogrepl.Parse(data)
	if err != nil {
		return err
	}
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		w.rels[m.RelationID] = m
	case *pglogrepl.BeginMessage:
		w.tx.reset()
		w.tx.committed = m.CommitTime
	case *pglogrepl.InsertMessage:
		w.rowChange(m.RelationID, false, nil, 0, m.Tuple)
	case *pglogrepl.UpdateMessage:
		w.rowChange(m.RelationID, true, m.OldTuple, m.OldTupleType, m.NewTuple)
	case *pglogrepl.DeleteMessage:
		w.rowChange(m.RelationID, false, m.OldTuple, m.OldTupleType, nil)
	case *pglogrepl.TruncateMessage:
		for _, oid := range m.RelationIDs {
			w.tx.wide[oid] = true
			w.tx.count++
		}
	case *pglogrepl.LogicalDecodingMessage:
		switch m.Prefix {
		case ddlPrefix:
			w.tx.ddl = true
			w.tx.count++
		case probePrefix:
			if t, err := strconv.ParseInt(string(m.Content), 10, 64); err == nil {
				w.tx.probe = max(w.tx.probe, t)
			}
		}
	case *pglogrepl.CommitMessage:
		return w.commit(ctx, m.TransactionEndLSN)
	}
	return nil
}

// rowChange records a row's old and new images. An UPDATE whose old row
// is not sent (the replica identity did not change, and it is not FULL)
// gives the old row by its identity only: the schemes of its other columns
// go whole.
func (w *watcher) rowChange(oid uint32, isUpdate bool, old *pglogrepl.TupleData, oldType uint8, new *pglogrepl.TupleData) {
	rel, ok := w.rels[oid]
	w.tx.count++
	if !ok {
		w.tx.wide[oid] = true
	}
	if w.tx.wide[oid] {
		return // the relation goes whole: no image to decode
	}
	switch {
	case old != nil && oldType == 'O':
		w.tx.row(oid, image(w.types, rel, old))
	case old != nil:
		w.tx.row(oid, keyOnly(rel, image(w.types, rel, old)))
	case new != nil && isUpdate:
		w.tx.row(oid, keyOnly(rel, image(w.types, rel, new))) // its identity did not change
	}
	if new != nil {
		w.tx.row(oid, image(w.types, rel, new))
	}
}

// commit hands the transaction's invalidation to the deliverer, in commit
// order. Its changes are computed here, with the catalog of the moment.
func (w *watcher) commit(ctx context.Context, end pglogrepl.LSN) error {
	d := decided{end: end, probe: w.tx.probe, committed: w.tx.committed, some: w.tx.count > 0}
	if d.some {
		cat := w.target.Catalog(ctx)
		d.changes, d.global = w.tx.changes(cat)
		if cat != nil {
			d.token = cat.Token
		}
		if w.tx.ddl {
			// A schema change: every process reloads its catalog, and the
			// whole database goes (as DDL through cacheops does).
			d.changes, d.global, d.token, d.ddl = append(d.changes, keys.Change{Rel: keys.SchemaKey, Wide: true}), true, "", true
			w.target.SchemaChanged()
		}
	}
	w.tx.reset()
	select {
	case w.queue <- d:
		return nil
	case err := <-w.failed:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// status tells the server how far the changes are handled: the slot keeps
// (and will send again) everything after the confirmed position.
func (w *watcher) status(ctx context.Context, conn *pgconn.PgConn) error {
	pos := w.confirmed
	if handled := pglogrepl.LSN(w.handled.Load()); handled > pos && w.target.Delivered() {
		pos = handled
	}
	if err := pglogrepl.SendStandbyStatusUpdate(ctx, conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: pos, WALFlushPosition: pos, WALApplyPosition: pos,
	}); err != nil {
		return err
	}
	w.confirmed = pos
	return nil
}
