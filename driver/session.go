package driver

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/cacheops/cacheops/keys"
)

// session is what a connection's results depend on besides the SQL and its
// arguments: which database, which role, which search_path, and the settings
// that change how values print. Entries are namespaced by all of it, so a
// role never reads another role's result.
type session struct {
	// ok: the namespace is known; when a re-read fails the connection stops
	// using the cache until a later re-read succeeds.
	ok          bool
	db          *database
	namespace   string
	fingerprint string
	keys        keys.Session
	// defaultIsolation is default_transaction_isolation: a transaction begun
	// without a level runs at it.
	defaultIsolation string
}

// sessionSQL reads the whole namespace in one round trip.
const sessionSQL = `SELECT (SELECT system_identifier::text FROM pg_control_system()), current_database()::text,
  current_user::text, session_user::text, current_setting('search_path'),
  current_setting('default_transaction_isolation'),
  coalesce((SELECT string_agg(c.relname::text || CASE WHEN
      EXISTS (SELECT 1 FROM pg_trigger t WHERE t.tgrelid = c.oid AND NOT t.tgisinternal)
      OR EXISTS (SELECT 1 FROM pg_rewrite r WHERE r.ev_class = c.oid AND r.ev_type <> '1')
    THEN chr(2) ELSE '' END, chr(1) ORDER BY c.relname) FROM pg_class c
    WHERE c.relnamespace = pg_my_temp_schema()), ''),
  current_setting('TimeZone'), current_setting('DateStyle'), current_setting('IntervalStyle'),
  current_setting('lc_monetary'), current_setting('lc_numeric'), current_setting('lc_time'),
  current_setting('extra_float_digits'), current_setting('bytea_output'),
  current_setting('default_text_search_config'), current_setting('standard_conforming_strings'),
  concat_ws(chr(1), current_setting('transform_null_equals'), current_setting('array_nulls'),
    current_setting('quote_all_identifiers'), current_setting('xmloption'), current_setting('xmlbinary'),
    current_setting('timezone_abbreviations'), current_setting('gin_fuzzy_search_limit'))`

// sessionFields: the columns of sessionSQL. Besides the identity, role and
// search_path, every builtin setting that changes what a cached query
// returns is read: how values print and parse (TimeZone, DateStyle, …,
// array_nulls, timezone_abbreviations, xml*), what a query means
// (transform_null_equals), which rows an index scan returns
// (gin_fuzzy_search_limit), what quote_ident says (quote_all_identifiers).
// Other settings reach results only through STABLE functions such as
// current_setting(), which are never cached.
const sessionFields = 18

// sessionQuery adds to sessionSQL the settings that row level security
// policies of cached tables read.
func sessionQuery(rowSecurity map[string][]string) (string, []string) {
	seen := map[string]bool{}
	var settings []string
	for _, names := range rowSecurity {
		for _, n := range names {
			if !seen[n] {
				seen[n] = true
				settings = append(settings, n)
			}
		}
	}
	sort.Strings(settings)
	q := sessionSQL
	for _, n := range settings {
		q += ", coalesce(current_setting('" + strings.ReplaceAll(n, "'", "''") + "', true), E'\\x01none')"
	}
	return q, settings
}

// fallbackSQL identifies the server by address where pg_control_system()
// is not granted.
func fallbackSQL(q string) string {
	return strings.Replace(q, "(SELECT system_identifier::text FROM pg_control_system())",
		"coalesce(host(inet_server_addr()), 'socket') || ':' || coalesce(inet_server_port(), 0)::text", 1)
}

// readSession (re-)reads the namespace. On failure the connection bypasses
// the cache until a later read succeeds.
func (c *Conn) readSession(ctx context.Context) error {
	c.sess.ok = false
	q := c.cfg.sessionSQL
	if q == "" {
		q = sessionSQL
	}
	rows, err := c.QueryAll(ctx, q)
	if err != nil && !c.tx.Active() {
		rows, err = c.QueryAll(ctx, fallbackSQL(q))
	}
	if err != nil {
		return err
	}
	if len(rows) != 1 || len(rows[0]) != sessionFields+len(c.cfg.sessionSettings) {
		return fmt.Errorf("cacheops: unexpected session row")
	}
	f := make([]string, len(rows[0]))
	for i, v := range rows[0] {
		switch s := v.(type) {
		case string:
			f[i] = s
		case []byte:
			f[i] = string(s)
		}
	}
	id := f[0] + "/" + f[1]
	user, searchPath := f[2], f[4]
	temp, tempEffects := map[string]bool{}, map[string]bool{}
	var tempNames []string
	if f[6] != "" {
		tempNames = strings.Split(f[6], "\x01")
		for _, n := range tempNames {
			name, effects := strings.CutSuffix(n, "\x02")
			temp[name], tempEffects[name] = true, effects
		}
	}
	sort.Strings(tempNames)
	c.sess = session{
		ok:        true,
		db:        c.cfg.database(id),
		namespace: strings.Join(append([]string{id, user, f[3], searchPath}, f[7:]...), "\x00"),
		// The settings row level security reads change which rows a plan's
		// tables show, not how names resolve; they are in the namespace.
		fingerprint: strings.Join(append([]string{user, searchPath}, tempNames...), "\x00"),
		keys: keys.Session{User: user, SearchPath: keys.ParseSearchPath(searchPath, user), Temp: temp, TempSideEffects: tempEffects,
			RowSecurityOK: c.cfg.rowSecurityOK, Selectable: c.selectable},
		defaultIsolation: f[5],
	}
	c.plans = nil
	return nil
}

// QueryAll runs sql on the wrapped connection and returns every row. It is how
// the catalog and the session are read.
func (c *Conn) QueryAll(ctx context.Context, sql string) ([][]driver.Value, error) {
	q, ok := c.parent.(driver.QueryerContext)
	if !ok {
		return nil, fmt.Errorf("cacheops: the wrapped driver cannot run queries directly")
	}
	rows, err := q.QueryContext(ctx, sql, nil)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]driver.Value
	for {
		row := make([]driver.Value, len(rows.Columns()))
		if err := rows.Next(row); err != nil {
			if err == io.EOF {
				return out, rows.Close()
			}
			return nil, err
		}
		out = append(out, row)
	}
}

// rowSecurityOK reports whether a table with row level security is named by
// Options.RowSecurity.
func (c *Config) rowSecurityOK(relKey string) bool {
	for t := range c.RowSecurity {
		if tableMatches(relKey, t) {
			return true
		}
	}
	return false
}
