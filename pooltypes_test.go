package cacheops_test

import (
	"context"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/cacheops/cacheops"
)

// describePgx renders rows as pgx gives them: every field description, the
// command tag, every value with its Go type and its bytes as sent.
func describePgx(t testing.TB, db pgxDB, q string, args ...any) string {
	t.Helper()
	rs, err := db.Query(context.Background(), q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var b strings.Builder
	for _, fd := range rs.FieldDescriptions() {
		fmt.Fprintf(&b, "%+v\n", fd)
	}
	for rs.Next() {
		vals, err := rs.Values()
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range vals {
			fmt.Fprintf(&b, "%T %#v %x; ", v, v, rs.RawValues()[i])
		}
		b.WriteString("\n")
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&b, "tag %q\n", rs.CommandTag().String())
	return b.String()
}

// registerPair teaches every connection the composite type pair, as an
// application registers its own types in AfterConnect.
func registerPair(cfg *pgxpool.Config) {
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		for _, name := range []string{"mood", "pair"} {
			typ, err := conn.LoadType(ctx, name)
			if err != nil {
				return err
			}
			conn.TypeMap().RegisterType(typ)
		}
		return nil
	}
}

func TestPoolHitReturnsExactlyWhatPgxReturns(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.outOfBand(typesFixture)
	queries := []string{
		"SELECT * FROM typed ORDER BY id",
		"SELECT id, num::numeric(12,2) AS n2, vc::varchar(3), ch::char(2), NULL AS nothing, 1::int2 + 1 AS expr FROM typed ORDER BY id",
		"SELECT * FROM typed WHERE id = -1", // empty result: fields and tag only
	}
	modes := map[string]func(*pgxpool.Config){
		"cache statement": func(*pgxpool.Config) {},
		"simple protocol": func(c *pgxpool.Config) {
			c.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeSimpleProtocol
		},
		"registered types": registerPair,
	}
	for name, mode := range modes {
		pool, raw := e.pools(mode)
		for _, q := range queries {
			want := describePgx(t, raw, q)
			for _, pass := range []string{"miss", "hit"} {
				hits := e.cache.Stats().Hits
				got := describePgx(t, pool, q)
				if (e.cache.Stats().Hits > hits) != (pass == "hit") {
					t.Fatalf("%s, %s: expected a %s", name, q, pass)
				}
				if got != want {
					t.Fatalf("%s, %s on a %s differs from pgx:\n--- pgx\n%s\n--- cacheops\n%s", name, q, pass, want, got)
				}
			}
			// Result formats are part of the entry: text and binary never
			// share one.
			want = describePgx(t, raw, q, pgx.QueryResultFormats{pgx.TextFormatCode})
			if got := describePgx(t, pool, q, pgx.QueryResultFormats{pgx.TextFormatCode}); got != want {
				t.Fatalf("%s, %s in text differs from pgx:\n--- pgx\n%s\n--- cacheops\n%s", name, q, want, got)
			}
		}
	}
}

// typedRow is a struct pgx fills by column name.
type typedRow struct {
	ID   int32
	I8   *int64
	Num  pgtype.Numeric
	B    *bool
	T    *string
	By   []byte
	Jsb  any
	U    pgtype.UUID
	D    pgtype.Date
	Tstz pgtype.Timestamptz
	Iv   pgtype.Interval
	Ia   []*int32
	Ta   []string
	Ip   *netip.Prefix
	R    pgtype.Range[pgtype.Int4]
	Comp *pair
	M    *string
}

type pair struct {
	A *int32
	B *string
}

func TestPoolHitScansIntoWhatPgxScansInto(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.outOfBand(typesFixture)
	pool, raw := e.pools(registerPair)
	const q = "SELECT id, i8, num, b, t, by, jsb, u, d, tstz, iv, ia, ta, ip, r, comp, m FROM typed ORDER BY id"
	collect := func(db pgxDB) []typedRow {
		rs, err := db.Query(e.ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		out, err := pgx.CollectRows(rs, pgx.RowToStructByName[typedRow])
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	want := collect(raw)
	for _, pass := range []string{"miss", "hit"} {
		hits := e.cache.Stats().Hits
		got := collect(pool)
		if (e.cache.Stats().Hits > hits) != (pass == "hit") {
			t.Fatalf("expected a %s", pass)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: RowToStructByName differs:\n%#v\n%#v", pass, want, got)
		}
	}
	if want[0].Comp == nil || *want[0].Comp.B != "x y" || want[0].Ip.String() != "192.168.0.1/24" {
		t.Fatalf("the fixture did not scan as expected: %#v", want[0])
	}

	// Scan into plain Go values, one destination per type, through QueryRow.
	scan := func(db interface {
		QueryRow(context.Context, string, ...any) pgx.Row
	}) string {
		var (
			tstz time.Time
			ip   netip.Prefix
			ia   []pgtype.Int4
			num  float64
			u    [16]byte
			comp pair
			js   any
		)
		err := db.QueryRow(e.ctx, "SELECT tstz, ip, ia, num, u, comp, js FROM typed WHERE id = $1", 1).Scan(&tstz, &ip, &ia, &num, &u, &comp, &js)
		if err != nil {
			t.Fatal(err)
		}
		var none int
		if err := db.QueryRow(e.ctx, "SELECT id FROM typed WHERE id = $1", -1).Scan(&none); err != pgx.ErrNoRows {
			t.Fatalf("an empty result: %v, want pgx.ErrNoRows", err)
		}
		return fmt.Sprintf("%v %v %v %v %x %v %v %v", tstz, tstz.Location(), ip, ia, u, *comp.A, num, js)
	}
	want1 := scan(raw)
	for _, pass := range []string{"miss", "hit"} {
		hits := e.cache.Stats().Hits
		if got := scan(pool); got != want1 {
			t.Fatalf("%s: Scan differs:\n%s\n%s", pass, want1, got)
		}
		if (e.cache.Stats().Hits-hits == 2) != (pass == "hit") {
			t.Fatalf("expected two %ss", pass)
		}
	}
}

// A type registered on a connection after its first use changes the format
// pgx asks for; an entry recorded in the old format must not be replayed to
// it (it would report text where the connection now gets binary).
func TestPoolTypeRegisteredLaterIsNotServedTheOldFormat(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.outOfBand(typesFixture)
	pool, raw := e.pools(func(c *pgxpool.Config) { c.MaxConns = 1 })
	const q = "SELECT comp FROM typed WHERE id = 1"
	want := describePgx(t, raw, q)
	if got := describePgx(t, pool, q); got != want { // a miss, stored in text
		t.Fatalf("miss differs:\n%s\n%s", want, got)
	}
	err := pool.AcquireFunc(e.ctx, func(c *cacheops.PoolConn) error {
		typ, err := c.Conn().LoadType(e.ctx, "pair")
		if err == nil {
			c.Conn().TypeMap().RegisterType(typ)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want = describePgx(t, raw, q) // the one connection now asks for binary
	hits := e.cache.Stats().Hits
	if got := describePgx(t, pool, q); got != want {
		t.Fatalf("after the registration:\n--- pgx\n%s\n--- cacheops\n%s", want, got)
	}
	if e.cache.Stats().Hits != hits {
		t.Fatal("the text entry was replayed")
	}
}
