package driver

import (
	"bytes"
	"context"

	"github.com/jackc/pgx/v5"

	"github.com/cacheops/cacheops/serialize"
)

// pgxForm is pgx's result form: every value as PostgreSQL sent it, with the
// field descriptions and the command tag, scanned on replay by a copy of
// the connection's type map exactly as pgx scans a live result.
type pgxForm struct {
	n *PgxConn
	k *pgxCall
}

var _ stmtForm[pgx.Rows, *serialize.Wire] = pgxForm{}

func (f pgxForm) run(ctx context.Context) (pgx.Rows, error) {
	return f.n.conn.Query(ctx, f.k.sql, f.k.args()...)
}

func (f pgxForm) runSQL(ctx context.Context, sql string) (pgx.Rows, error) {
	return f.n.conn.Query(ctx, sql, f.k.args()...)
}

func (f pgxForm) plain(ctx context.Context) (pgx.Rows, error, bool) {
	rows, err := f.run(ctx)
	return rows, err, true
}

func (f pgxForm) captured(rows pgx.Rows, log *captureLog) pgx.Rows {
	return newPgxCaptureRows(rows, log)
}

func (pgxForm) hooked(rows pgx.Rows, done func(error)) pgx.Rows {
	return &pgxHookRows{Rows: rows, done: done}
}

func (pgxForm) failed(rows pgx.Rows, err error) pgx.Rows {
	if rows != nil {
		return rows // pgx's own, closed, holding err
	}
	return errRows{err: err}
}

func (pgxForm) encode(w *serialize.Wire) ([]byte, error) { return w.Encode(), nil }

// decode copies the payload first: a replay hands slices of it to the
// caller (RawValues), who may write them.
func (pgxForm) decode(payload []byte) (*serialize.Wire, error) {
	return serialize.DecodeWire(bytes.Clone(payload))
}

// fits reports whether every value is in the format this call asks for:
// the exec mode, the result format options and the connection's type map
// (a type registered in AfterConnect may be asked for in binary) decide it,
// and a pool registering other types shares the same entries.
func (f pgxForm) fits(w *serialize.Wire) bool {
	for i := range w.Fields {
		if w.Fields[i].Format != f.k.format(f.n, i, w.Fields[i].DataTypeOID) {
			return false
		}
	}
	return true
}

func (f pgxForm) replay(w *serialize.Wire) pgx.Rows {
	m, put := f.n.typeMap()
	return &wireRows{w: w, m: m, put: put}
}

// tee hands the rows on as pgx reads them, copying every value out of
// pgx's read buffer into one block per row.
func (f pgxForm) tee(c *Conn, rows pgx.Rows, p progress, done func(*serialize.Wire, bool, error)) pgx.Rows {
	w := &serialize.Wire{Fields: append(rows.FieldDescriptions()[:0:0], rows.FieldDescriptions()...)}
	p.reading(false)
	return &pgxTeeRows{Rows: rows, w: w, max: c.cfg.MaxRows, p: p, done: done}
}

// pgxTeeRows serves a miss's rows as pgx reads them and records them on the
// way; closed early, it reads the rest into the recording first.
type pgxTeeRows struct {
	pgx.Rows
	w        *serialize.Wire // nil once the result cannot be stored
	max      int
	finished bool
	p        progress
	done     func(*serialize.Wire, bool, error)
}

func (r *pgxTeeRows) Next() bool {
	r.p.reading(true)
	more := r.Rows.Next()
	r.p.reading(false)
	if more {
		r.keep()
		return true
	}
	r.finish()
	return false
}

func (r *pgxTeeRows) keep() {
	if r.w == nil {
		return
	}
	raw := r.Rows.RawValues()
	size := 0
	for _, v := range raw {
		size += len(v)
	}
	block := make([]byte, 0, size)
	row := make([][]byte, len(raw))
	for i, v := range raw {
		if v != nil {
			start := len(block)
			block = append(block, v...)
			row[i] = block[start:len(block):len(block)]
		}
	}
	r.w.Rows = append(r.w.Rows, row)
	if len(r.w.Rows) > r.max {
		r.w = nil
	}
}

// finish reports the recording once pgx's rows are over (pgx closes them
// when Next returns false).
func (r *pgxTeeRows) finish() {
	if r.finished {
		return
	}
	r.finished = true
	err := r.Rows.Err()
	if r.w != nil && err == nil {
		r.w.Tag = r.Rows.CommandTag().String()
	}
	r.done(r.w, r.w != nil, err)
}

func (r *pgxTeeRows) Close() {
	if !r.finished && r.w != nil {
		r.p.reading(true)
		for r.w != nil && r.Rows.Next() {
			r.keep()
		}
		r.p.reading(false)
	}
	r.Rows.Close()
	r.finish()
}
