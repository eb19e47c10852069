package serialize

import (
	"database/sql/driver"
	"reflect"
	"strconv"
	"testing"
	"time"
)

// BenchmarkDecode decodes what a GROUP BY hit replays: 100 rows of an
// integer, a count, a numeric sum (text) and a timestamptz; copied first
// (Decode), and in place as a hit does (DecodeOwned).
func BenchmarkDecode(b *testing.B) {
	payload := groupByPayload(b)
	for _, d := range []struct {
		name   string
		decode func([]byte) (*Result, error)
	}{{"copy", Decode}, {"owned", DecodeOwned}} {
		b.Run(d.name, func(b *testing.B) {
			b.SetBytes(int64(len(payload)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.decode(payload); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func groupByPayload(b *testing.B) []byte {
	cols := []Column{
		{Name: "category", DatabaseTypeName: "INT4", ScanType: reflect.TypeFor[int32]()},
		{Name: "count", DatabaseTypeName: "INT8", ScanType: reflect.TypeFor[int64]()},
		{Name: "sum", DatabaseTypeName: "NUMERIC", ScanType: reflect.TypeFor[float64]()},
		{Name: "max", DatabaseTypeName: "TIMESTAMPTZ", ScanType: reflect.TypeFor[time.Time]()},
	}
	e, err := NewEncoder(cols)
	if err != nil {
		b.Fatal(err)
	}
	at := time.Date(2024, 3, 1, 10, 0, 0, 123000, time.Local)
	for i := range 100 {
		if err := e.AddRow([]driver.Value{int64(i), int64(2000), strconv.Itoa(i*997) + ".50", at.Add(time.Duration(i) * time.Hour)}); err != nil {
			b.Fatal(err)
		}
	}
	payload, err := e.Bytes()
	if err != nil {
		b.Fatal(err)
	}
	return payload
}

// BenchmarkDecodeReference is the msgpack library's decoder on the same
// payload, for comparison.
func BenchmarkDecodeReference(b *testing.B) {
	payload := groupByPayload(b)
	b.SetBytes(int64(len(payload)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeReference(payload); err != nil {
			b.Fatal(err)
		}
	}
}
