package serialize

import (
	"bytes"
	"database/sql/driver"
	"math"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"time"

	"pgregory.net/rapid"
)

func sampleColumns() []Column {
	return []Column{
		{Name: "id", DatabaseTypeName: "INT4", ScanType: reflect.TypeFor[int32]()},
		{Name: "title", DatabaseTypeName: "VARCHAR", ScanType: reflect.TypeFor[string](), Length: 20, HasLength: true},
		{Name: "price", DatabaseTypeName: "NUMERIC", ScanType: reflect.TypeFor[float64](), Precision: 10, Scale: 2, HasDecimalSize: true},
		{Name: "any", ScanType: reflect.TypeFor[any](), Nullable: true, HasNullable: true},
	}
}

func TestRoundTripKeepsExactValues(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		v    driver.Value
	}{
		{"nil", nil},
		{"zero", int64(0)},
		{"negative", int64(-1 << 40)},
		{"max int64", int64(math.MaxInt64)},
		{"min int64", int64(math.MinInt64)},
		{"float", 3.25},
		{"NaN", math.NaN()},
		{"+Inf", math.Inf(1)},
		{"-Inf", math.Inf(-1)},
		{"negative zero", math.Copysign(0, -1)},
		{"true", true},
		{"false", false},
		{"empty string", ""},
		{"unicode", "héllo ✓"},
		{"bytes", []byte{0, 1, 2, 255}},
		{"empty bytes", []byte{}},
		{"nil bytes", []byte(nil)},
		{"utc", time.Date(2024, 2, 29, 12, 30, 15, 123456000, time.UTC)},
		{"local", time.Date(2024, 2, 29, 12, 30, 15, 123456000, time.Local)},
		{"fixed", time.Date(2024, 2, 29, 12, 30, 15, 0, time.FixedZone("", -3*3600-1800))},
		{"named", time.Date(2024, 7, 1, 8, 0, 0, 0, berlin)},
		{"year 1", time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"far future", time.Date(294276, 12, 31, 23, 59, 59, 999999000, time.UTC)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e, err := NewEncoder(sampleColumns()[:1])
			if err != nil {
				t.Fatal(err)
			}
			if err := e.AddRow([]driver.Value{c.v}); err != nil {
				t.Fatal(err)
			}
			b, err := e.Bytes()
			if err != nil {
				t.Fatal(err)
			}
			res, err := Decode(b)
			if err != nil {
				t.Fatal(err)
			}
			got := res.Rows[0][0]
			if f, ok := c.v.(float64); ok {
				if math.Float64bits(got.(float64)) != math.Float64bits(f) {
					t.Fatalf("got %v, want %v", got, f)
				}
				return
			}
			if !reflect.DeepEqual(got, c.v) {
				t.Fatalf("got %#v (%T), want %#v (%T)", got, got, c.v, c.v)
			}
			if tm, ok := c.v.(time.Time); ok && got.(time.Time).Location().String() != tm.Location().String() {
				t.Fatalf("location %v, want %v", got.(time.Time).Location(), tm.Location())
			}
		})
	}
}

func TestColumnsRoundTrip(t *testing.T) {
	e, err := NewEncoder(sampleColumns())
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := e.AddRow([]driver.Value{int64(i), "t", "1.50", nil}); err != nil {
			t.Fatal(err)
		}
	}
	b, _ := e.Bytes()
	res, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(res.Columns, sampleColumns()) {
		t.Fatalf("columns %+v", res.Columns)
	}
	if len(res.Rows) != 3 || res.Rows[2][0] != int64(2) {
		t.Fatalf("rows %v", res.Rows)
	}
}

func TestEmptyResult(t *testing.T) {
	e, _ := NewEncoder(sampleColumns())
	b, _ := e.Bytes()
	res, err := Decode(b)
	if err != nil || len(res.Rows) != 0 || len(res.Columns) != 4 {
		t.Fatalf("%v %v", res, err)
	}
}

func TestUnsupportedInputIsRefused(t *testing.T) {
	if _, err := NewEncoder([]Column{{Name: "x", ScanType: reflect.TypeFor[chan int]()}}); err == nil {
		t.Fatal("an unknown scan type must not be cached")
	}
	e, _ := NewEncoder(sampleColumns()[:1])
	if err := e.AddRow([]driver.Value{int32(1)}); err == nil {
		t.Fatal("a value type drivers do not return must not be cached")
	}
}

func TestCorruptPayloadsAreErrors(t *testing.T) {
	e, _ := NewEncoder(sampleColumns())
	_ = e.AddRow([]driver.Value{int64(1), "title", "2.5", time.Now()})
	good, _ := e.Bytes()
	for i := 0; i < len(good); i++ {
		if _, err := Decode(good[:i]); err == nil {
			t.Fatalf("truncated to %d bytes: no error", i)
		}
	}
	for _, b := range [][]byte{nil, {}, {0}, {2}, []byte("foreign bytes"), append(append([]byte{}, good...), 0)} {
		if _, err := Decode(b); err == nil {
			t.Fatalf("%q: no error", b)
		}
		if _, err := DecodeOwned(bytes.Clone(b)); err == nil {
			t.Fatalf("%q: no error from DecodeOwned", b)
		}
	}
}

func FuzzDecode(f *testing.F) {
	e, _ := NewEncoder(sampleColumns())
	_ = e.AddRow([]driver.Value{int64(1), "title", "2.5", time.Now()})
	_ = e.AddRow([]driver.Value{nil, []byte(nil), 1.5, true})
	good, _ := e.Bytes()
	f.Add(good)
	f.Add([]byte{1, 0x91})
	f.Add([]byte{1, 0xdd, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		res, err := Decode(b)
		if _, oerr := DecodeOwned(bytes.Clone(b)); (oerr == nil) != (err == nil) {
			t.Fatalf("Decode: %v, DecodeOwned: %v", err, oerr)
		}
		if err != nil {
			return
		}
		// Whatever decodes must encode back to the same bytes.
		e, err := NewEncoder(res.Columns)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Rows {
			if err := e.AddRow(r); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// The in-place decoder reads every payload the Encoder writes exactly as the
// msgpack library's decoder does: random rows of every value kind, encoded,
// decode to results that encode back to the same bytes either way.
func TestDecodeMatchesTheMsgpackDecoder(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		cols := sampleColumns()
		e, err := NewEncoder(cols)
		if err != nil {
			t.Fatal(err)
		}
		locs := []*time.Location{time.UTC, time.Local, time.FixedZone("X", 5*3600+1800), time.FixedZone("", -7200)}
		value := rapid.Custom(func(t *rapid.T) driver.Value {
			switch rapid.IntRange(0, 8).Draw(t, "kind") {
			case 0:
				return nil
			case 1:
				return rapid.Int64().Draw(t, "int")
			case 2:
				return rapid.Float64().Draw(t, "float")
			case 3:
				return rapid.Bool().Draw(t, "bool")
			case 4:
				return rapid.String().Draw(t, "string")
			case 5:
				return rapid.SliceOf(rapid.Byte()).Draw(t, "bytes")
			case 6:
				return []byte(nil)
			case 7:
				return strings.Repeat("x", rapid.IntRange(0, 70000).Draw(t, "long"))
			}
			loc := locs[rapid.IntRange(0, len(locs)-1).Draw(t, "loc")]
			return time.Unix(rapid.Int64Range(-1<<40, 1<<40).Draw(t, "sec"), rapid.Int64Range(0, 999999999).Draw(t, "nsec")).In(loc)
		})
		rows := rapid.IntRange(0, 20).Draw(t, "rows")
		for i := 0; i < rows; i++ {
			row := make([]driver.Value, len(cols))
			for j := range row {
				row[j] = value.Draw(t, "value")
			}
			if err := e.AddRow(row); err != nil {
				t.Fatal(err)
			}
		}
		payload, err := e.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		got, err := Decode(payload)
		if err != nil {
			t.Fatal(err)
		}
		want, err := decodeReference(payload)
		if err != nil {
			t.Fatal(err)
		}
		// The hit path's decode keeps the payload handed to it.
		owned, err := DecodeOwned(bytes.Clone(payload))
		if err != nil {
			t.Fatal(err)
		}
		// The cells point into slabs of the decoder: they survive a
		// collection and the payload being overwritten.
		clear(payload)
		runtime.GC()
		payload, _ = e.Bytes()
		if !bytes.Equal(reencode(t, got), reencode(t, want)) || !bytes.Equal(reencode(t, got), payload) {
			t.Fatalf("decoded differently:\n%#v\n%#v", got, want)
		}
		if !bytes.Equal(reencode(t, owned), payload) {
			t.Fatalf("DecodeOwned decoded differently:\n%#v\n%#v", owned, want)
		}
		for i := range got.Rows {
			for j, v := range got.Rows[i] {
				if w := want.Rows[i][j]; reflect.TypeOf(v) != reflect.TypeOf(w) || (v == nil) != (w == nil) {
					t.Fatalf("cell %d,%d: %T %v, want %T %v", i, j, v, v, w, w)
				}
				if b, ok := v.([]byte); ok && (b == nil) != (want.Rows[i][j].([]byte) == nil) {
					t.Fatalf("cell %d,%d: nil bytes differ", i, j)
				}
			}
		}
	})
}

func reencode(t *rapid.T, res *Result) []byte {
	e, err := NewEncoder(res.Columns)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Rows {
		if err := e.AddRow(r); err != nil {
			t.Fatal(err)
		}
	}
	b, err := e.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
