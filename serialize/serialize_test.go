package serialize

import (
	"database/sql/driver"
	"math"
	"reflect"
	"testing"
	"time"
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
	for _, b := range [][]byte{nil, {0}, {2}, []byte("foreign bytes"), append(append([]byte{}, good...), 0)} {
		if _, err := Decode(b); err == nil {
			t.Fatalf("%q: no error", b)
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
