package driver

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// pgxOptions are the arguments pgx takes off the front of a statement's
// arguments as options, not parameters: an exec mode, result formats, a
// query rewriter (pgx.NamedArgs), in any order. pgx's database/sql driver
// passes arguments through to pgx, so they reach both APIs. The analysis
// must see the parameters as PostgreSQL will ($1 is the first parameter,
// not an option) and the SQL as rewritten; the options that decide the
// values' formats are part of the entry key.
type pgxOptions struct {
	mode     pgx.QueryExecMode
	hasMode  bool
	formats  pgx.QueryResultFormats
	byOID    pgx.QueryResultFormatsByOID
	rewriter pgx.QueryRewriter
	// keep are the options passed on to pgx: all but the rewriter, which
	// has been applied.
	keep []any
	// key is their part of an entry key.
	key string
}

// takeOptions reads the options off the front of args and returns how many
// it read. In a batch pgx takes only a rewriter.
func takeOptions(args []any, inBatch bool) (o pgxOptions, n int) {
	var key []string
	for ; n < len(args); n++ {
		if _, ok := args[n].(pgx.QueryRewriter); inBatch && !ok {
			break
		}
		switch a := args[n].(type) {
		case pgx.QueryExecMode:
			o.mode, o.hasMode = a, true
			key = append(key, "mode"+strconv.Itoa(int(a)))
		case pgx.QueryResultFormats:
			o.formats = a
			key = append(key, fmt.Sprint([]int16(a)))
		case pgx.QueryResultFormatsByOID:
			o.byOID = a
			oids := make([]string, 0, len(a))
			for oid, f := range a {
				oids = append(oids, strconv.FormatUint(uint64(oid), 10)+":"+strconv.Itoa(int(f)))
			}
			sort.Strings(oids)
			key = append(key, "oid"+strings.Join(oids, ","))
		case pgx.QueryRewriter:
			o.rewriter = a
			continue
		default:
			return o, n
		}
		o.keep = append(o.keep, args[n])
	}
	o.key = strings.Join(key, "\x00")
	return o, n
}

// rewrite applies the rewriter, if any, to sql and the parameters.
func (o *pgxOptions) rewrite(ctx context.Context, conn *pgx.Conn, sql string, params []any) (string, []any, error) {
	if o.rewriter == nil {
		return sql, params, nil
	}
	sql, params, err := o.rewriter.RewriteQuery(ctx, conn, sql, params)
	if err != nil {
		return "", nil, fmt.Errorf("rewrite query failed: %w", err)
	}
	return sql, params, nil
}

// namedParams numbers parameters from 1, as the analysis reads them.
func namedParams(params []any) []driver.NamedValue {
	out := make([]driver.NamedValue, len(params))
	for i, v := range params {
		out[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return out
}

// sqlOptions takes pgx's options off database/sql arguments: the SQL to
// run and analyse, the arguments to run it with, the parameters to
// analyse and the options' part of an entry key. Without options (nearly
// always) it returns its input.
func (c *Conn) sqlOptions(ctx context.Context, query string, args []driver.NamedValue) (string, []driver.NamedValue, []driver.NamedValue, string, error) {
	if len(args) == 0 || !isPgxOption(args[0].Value) {
		return query, args, args, "", nil
	}
	vals := make([]any, len(args))
	for i, a := range args {
		vals[i] = a.Value
	}
	o, n := takeOptions(vals, false)
	var conn *pgx.Conn
	if pc, ok := c.parent.(interface{ Conn() *pgx.Conn }); ok {
		conn = pc.Conn()
	}
	query, params, err := o.rewrite(ctx, conn, query, vals[n:])
	if err != nil {
		return "", nil, nil, "", err
	}
	named := namedParams(params)
	run := namedParams(append(o.keep, params...))
	return query, run, named, "\x00opts\x00" + o.key, nil
}

func isPgxOption(v any) bool {
	switch v.(type) {
	case pgx.QueryExecMode, pgx.QueryResultFormats, pgx.QueryResultFormatsByOID, pgx.QueryRewriter:
		return true
	}
	return false
}
