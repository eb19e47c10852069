package driver

import (
	"context"
	"database/sql/driver"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// PgxConn is a pgx connection used through pgx's own interface with the
// cache: the same Conn state (session, plans, transaction) and the same
// read and write paths as database/sql's, with pgx's rows. It lives as long
// as the pgx connection (in its CustomData), and like a pgx connection it is
// used by one goroutine at a time.
type PgxConn struct {
	c    *Conn
	conn *pgx.Conn
	// mode is the connection's default QueryExecMode, which decides the
	// result formats and so is part of every entry key.
	mode pgx.QueryExecMode
	// formats fingerprints the formats the connection's type map asks for
	// the types registered on it: part of every entry key.
	formats string
	// maps are copies of the connection's type map for replayed rows: a
	// pgtype.Map is not safe for concurrent use, and a replay outlives the
	// connection's checkout.
	maps sync.Pool
	// prepared maps the statements prepared through Tx.Prepare by name to
	// their SQL: a name is run as is and analysed as its SQL.
	prepared map[string]string
}

// Native returns the cache state of conn, which the caller holds, making it
// on first use: the session is read (and the catalog, if no connection of
// this database has read it) as a database/sql connection's is on connect.
func Native(ctx context.Context, cfg *Config, conn *pgx.Conn) (*PgxConn, error) {
	data := conn.PgConn().CustomData()
	if n, ok := data[cfg.nativeKey].(*PgxConn); ok {
		return n, nil
	}
	n := &PgxConn{c: &Conn{parent: &pgxParent{conn: conn}, cfg: cfg}, conn: conn,
		mode: conn.Config().DefaultQueryExecMode}
	m := conn.TypeMap()
	n.maps.New = func() any { return m.Copy() }
	n.formats = formatsFingerprint(m)
	if err := n.c.readSession(ctx); err != nil {
		return nil, err
	}
	n.c.catalog(ctx)
	data[cfg.nativeKey] = n
	return n, nil
}

// Conn returns the pgx connection. Statements run on it directly bypass the
// cache and invalidate nothing.
func (n *PgxConn) Conn() *pgx.Conn { return n.conn }

// typeMap lends a copy of the connection's type map; put gives it back.
func (n *PgxConn) typeMap() (*pgtype.Map, func(*pgtype.Map)) {
	return n.maps.Get().(*pgtype.Map), func(m *pgtype.Map) { n.maps.Put(m) }
}

// pgxCall is one statement from pgx's interface, its arguments taken apart
// as pgx takes them apart: leading options, a query rewriter (applied here,
// so that the SQL analysed is the SQL run), then the parameters.
type pgxCall struct {
	sql string // what pgx runs
	// text is what is analysed and keyed: sql, or the SQL of the statement
	// prepared under that name (a captured write then runs its captured
	// form, a statement of its own, instead of the name).
	text   string
	opts   []any
	params []any
	// mode and the result format options decide each value's format.
	mode    pgx.QueryExecMode
	formats pgx.QueryResultFormats
	byOID   pgx.QueryResultFormatsByOID
	named   []driver.NamedValue
	ns      string
}

// newCall takes a statement's arguments apart. In a batch (inBatch) pgx
// takes only a query rewriter from the front.
func (n *PgxConn) newCall(ctx context.Context, sql string, args []any, inBatch bool) (*pgxCall, error) {
	o, i := takeOptions(args, inBatch)
	sql, params, err := o.rewrite(ctx, n.conn, sql, args[i:])
	if err != nil {
		return nil, err
	}
	k := &pgxCall{sql: sql, text: sql, opts: o.keep, params: params, mode: n.mode, formats: o.formats, byOID: o.byOID}
	if o.hasMode {
		k.mode = o.mode
	}
	if text, ok := n.prepared[k.sql]; ok {
		k.text = text
	}
	// The exec mode and result formats decide the format of every value:
	// entries differ by them, and from database/sql's.
	k.ns = "\x00pgx\x00" + strconv.Itoa(int(k.mode)) + "\x00" + n.formats + "\x00" + o.key
	k.named = namedParams(params)
	return k, nil
}

// format is the format pgx asks PostgreSQL for the i-th result column of
// this call in, of type oid.
func (k *pgxCall) format(n *PgxConn, i int, oid uint32) int16 {
	switch {
	case k.byOID != nil:
		return k.byOID[oid]
	case len(k.formats) == 1:
		return k.formats[0]
	case k.formats != nil:
		if i < len(k.formats) {
			return k.formats[i]
		}
		return pgx.TextFormatCode
	case k.mode == pgx.QueryExecModeSimpleProtocol || k.mode == pgx.QueryExecModeExec:
		return pgx.TextFormatCode
	}
	return n.conn.TypeMap().FormatCodeForOID(oid)
}

// formatsFingerprint lists the types registered on a type map (pgx keeps
// them unexported: read by reflection, read only) with the format each is
// asked for, so that connections registering different types (in
// AfterConnect) key their entries apart. When pgx's layout is not the one
// expected it is empty, and fits still keeps a replay exact.
func formatsFingerprint(m *pgtype.Map) string {
	v := reflect.ValueOf(m).Elem().FieldByName("oidToType")
	if !v.IsValid() || v.Kind() != reflect.Map {
		return ""
	}
	var oids []uint64
	for _, k := range v.MapKeys() {
		if k.CanUint() {
			oids = append(oids, k.Uint())
		}
	}
	slices.Sort(oids)
	var b strings.Builder
	for _, oid := range oids {
		fmt.Fprintf(&b, "%d:%d,", oid, m.FormatCodeForOID(uint32(oid)))
	}
	return b.String()
}

// args are the arguments pgx is given: the options, then the parameters.
func (k *pgxCall) args() []any {
	if len(k.opts) == 0 {
		return k.params
	}
	return append(slices.Clip(k.opts), k.params...)
}

// Query runs a query: reads use the cache, writes invalidate what they
// wrote when their rows are closed (in a transaction, at commit).
func (n *PgxConn) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	k, err := n.newCall(ctx, sql, args, false)
	if err != nil {
		return errRows{err: err}, err
	}
	p := n.c.plan(ctx, k.text)
	return statement(n.c, ctx, p, k.text, k.ns, k.named, p.capture(), pgxForm{n: n, k: k})
}

// QueryRow is Query for one row, with pgx's Row semantics.
func (n *PgxConn) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return RowOf(n.Query(ctx, sql, args...))
}

// RowOf gives pgx's Row semantics to the result of a Query: the first row,
// ErrNoRows when there is none, the rows closed after.
func RowOf(rows pgx.Rows, err error) pgx.Row { return &pgxRow{rows: rows, err: err} }

// ErrRows are the rows of a query that failed before it ran.
func ErrRows(err error) pgx.Rows { return errRows{err: err} }

// Exec runs a statement and returns its command tag; a write invalidates
// what it wrote before Exec returns (in a transaction, at commit).
func (n *PgxConn) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	k, err := n.newCall(ctx, sql, args, false)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	c := n.c
	p := c.plan(ctx, k.text)
	if capt := p.capture(); capt != nil {
		rows, err := n.conn.Query(ctx, capt.SQL, k.args()...)
		if err != nil && c.uncaptured(p, err) {
			tag, err := n.conn.Exec(ctx, k.sql, k.args()...)
			c.after(ctx, p, err, nil) // its tables go whole
			return tag, err
		}
		if err != nil {
			c.after(ctx, p, err, nil)
			return pgconn.CommandTag{}, err
		}
		r := pgxForm{n: n, k: k}.captured(rows, newCaptureLog(ctx, c, p, capt))
		for r.Next() {
		}
		r.Close()
		if err := rows.Err(); err != nil {
			return pgconn.CommandTag{}, err
		}
		return rows.CommandTag(), nil
	}
	tag, err := n.conn.Exec(ctx, k.sql, k.args()...)
	c.after(ctx, p, err, p.changes(k.named))
	return tag, err
}

// Ping pings the server.
func (n *PgxConn) Ping(ctx context.Context) error { return n.conn.Ping(ctx) }

// CopyFrom copies rows into a table with COPY FROM STDIN and invalidates the
// table whole (its rows are new, with defaults PostgreSQL filled in).
func (n *PgxConn) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	c := n.c
	quoted := make([]string, len(columns))
	for i, col := range columns {
		quoted[i] = pgx.Identifier{col}.Sanitize()
	}
	p := c.plan(ctx, "COPY "+table.Sanitize()+" ("+strings.Join(quoted, ", ")+") FROM STDIN")
	count, err := n.conn.CopyFrom(ctx, table, columns, src)
	c.after(ctx, p, err, nil)
	return count, err
}

// InvalidateRows is Conn.InvalidateRows on this connection's session.
func (n *PgxConn) InvalidateRows(ctx context.Context, table string, rows []map[string]any) error {
	return n.c.InvalidateRows(ctx, table, rows)
}

// PlanCachedAs is Conn.PlanCachedAs on this connection's session.
func (n *PgxConn) PlanCachedAs(ctx context.Context, name string, deps []DepQuery) (*CachedAsPlan, error) {
	return n.c.PlanCachedAs(ctx, name, deps)
}

// Invalidate is Conn.Invalidate on this connection's session.
func (n *PgxConn) Invalidate(ctx context.Context, tables []string, all bool) error {
	return n.c.Invalidate(ctx, tables, all)
}
