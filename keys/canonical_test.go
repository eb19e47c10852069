package keys

import (
	"testing"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/cacheops/cacheops/catalog"
)

// Every spelling of one value must meet at one key: a mismatch is a stale read.
func TestCanonicalValuesMeet(t *testing.T) {
	three := int64(3)
	u := "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"
	cases := []struct {
		kind  catalog.ValueKind
		want  string
		forms []any
	}{
		{catalog.IntKind, "3", []any{3, int64(3), int32(3), int16(3), uint8(3), "3", "03", " +3 ", 3.0, float32(3), &three,
			NumericLiteral("3.0"), NumericLiteral("3.000"), NumericLiteral("0.3e1"),
			pgtype.Int4{Int32: 3, Valid: true}, []byte("3")}},
		{catalog.IntKind, "-9223372036854775808", []any{int64(-9223372036854775808), "-9223372036854775808"}},
		{catalog.BoolKind, "t", []any{true, "t", "true", "TRUE", "yes", "y", "on", "1", " tr ", "ye"}},
		{catalog.BoolKind, "f", []any{false, "f", "false", "no", "n", "off", "of", "0", "FALSE"}},
		{catalog.TextKind, "Hello ", []any{"Hello ", []byte("Hello ")}},
		{catalog.EnumKind, "happy", []any{"happy"}},
		{catalog.UUIDKind, u, []any{u, "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11", "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11}",
			"a0eebc999c0b4ef8bb6d6bb9bd380a11", "a0ee-bc99-9c0b-4ef8-bb6d-6bb9-bd38-0a11",
			[16]byte{0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11},
			pgtype.UUID{Bytes: [16]byte{0xa0, 0xee, 0xbc, 0x99, 0x9c, 0x0b, 0x4e, 0xf8, 0xbb, 0x6d, 0x6b, 0xb9, 0xbd, 0x38, 0x0a, 0x11}, Valid: true}}},
		{catalog.IntKind, Null, []any{nil, (*int)(nil), pgtype.Int4{}}},
	}
	for _, c := range cases {
		for _, f := range c.forms {
			got, ok := Canonical(c.kind, f)
			if !ok || got != c.want {
				t.Errorf("%s %#v: got %q, %v; want %q", c.kind, f, got, ok, c.want)
			}
		}
	}
}

// Values PostgreSQL would not read as the column's type, or would read
// differently, have no canonical form: the term is dropped.
func TestCanonicalRefuses(t *testing.T) {
	cases := []struct {
		kind catalog.ValueKind
		v    any
	}{
		{catalog.IntKind, 3.5}, {catalog.IntKind, "3.0"}, {catalog.IntKind, NumericLiteral("3.5")}, {catalog.TextKind, NumericLiteral("3")}, {catalog.IntKind, "0x1F"}, {catalog.IntKind, "1_000"},
		{catalog.IntKind, ""}, {catalog.IntKind, true}, {catalog.IntKind, uint64(1 << 63)}, {catalog.IntKind, "99999999999999999999"},
		{catalog.BoolKind, "o"}, {catalog.BoolKind, "maybe"}, {catalog.BoolKind, 1}, {catalog.BoolKind, ""},
		{catalog.TextKind, 3}, {catalog.UUIDKind, "a0eebc99"}, {catalog.UUIDKind, "a0eebc99--9c0b-4ef8-bb6d-6bb9bd380a11"},
		{catalog.UUIDKind, "-a0eebc999c0b4ef8bb6d6bb9bd380a11"}, {catalog.NoKind, "x"}, {catalog.TextKind, struct{}{}},
	}
	for _, c := range cases {
		if got, ok := Canonical(c.kind, c.v); ok {
			t.Errorf("%s %#v: got %q, want no canonical form", c.kind, c.v, got)
		}
	}
}

// Canonical must never panic and, for every kind, give one value for text
// that PostgreSQL reads as the same value: canonical forms are fixed points.
func FuzzCanonical(f *testing.F) {
	f.Add(" +03 ")
	f.Fuzz(func(t *testing.T, s string) {
		for _, k := range []catalog.ValueKind{catalog.IntKind, catalog.BoolKind, catalog.TextKind, catalog.UUIDKind, catalog.EnumKind} {
			v, ok := Canonical(k, s)
			if !ok {
				continue
			}
			again, ok := Canonical(k, v)
			if k == catalog.BoolKind {
				again, ok = Canonical(k, v == "t")
			}
			if !ok || again != v {
				t.Fatalf("%s %q: canonical %q is not a fixed point (%q)", k, s, v, again)
			}
		}
		Canonical(catalog.IntKind, NumericLiteral(s))
	})
}
