package driver

import (
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

func (pgxForm) decode(payload []byte) (*serialize.Wire, error) { return serialize.DecodeWire(payload) }

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

func (f pgxForm) replay(w *serialize.Wire, ended error) pgx.Rows {
	m, put := f.n.typeMap()
	return &wireRows{w: w, m: m, put: put, ended: ended}
}

// record reads the result whole, copying every value out of pgx's read
// buffer into one block per row.
func (f pgxForm) record(c *Conn, rows pgx.Rows) (*serialize.Wire, error, pgx.Rows, bool) {
	w := &serialize.Wire{Fields: append(rows.FieldDescriptions()[:0:0], rows.FieldDescriptions()...)}
	for rows.Next() {
		raw := rows.RawValues()
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
		w.Rows = append(w.Rows, row)
		if len(w.Rows) > c.cfg.MaxRows {
			m, put := f.n.typeMap()
			return nil, nil, &wireRows{w: w, m: m, put: put, tail: rows}, false
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return w, err, nil, true
	}
	w.Tag = rows.CommandTag().String()
	return w, nil, nil, true
}
