package serialize

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
)

func sampleWire() *Wire {
	return &Wire{
		Fields: []pgconn.FieldDescription{
			{Name: "id", TableOID: 16384, TableAttributeNumber: 1, DataTypeOID: 23, DataTypeSize: 4, TypeModifier: -1, Format: 1},
			{Name: "title ✓", TableOID: 16384, TableAttributeNumber: 2, DataTypeOID: 25, DataTypeSize: -1, TypeModifier: -1, Format: 0},
			{Name: "", DataTypeOID: 4294967295, DataTypeSize: -32768, TypeModifier: -2147483648, Format: 1},
		},
		Rows: [][][]byte{
			{{0, 0, 0, 1}, []byte("a"), {}},
			{nil, nil, nil},
			{{0, 0, 0, 2}, []byte{}, bytes.Repeat([]byte{0xff}, 300)},
		},
		Tag: "SELECT 3",
	}
}

func TestWireRoundTripsExactly(t *testing.T) {
	cases := map[string]*Wire{
		"rows":      sampleWire(),
		"no rows":   {Fields: sampleWire().Fields, Rows: [][][]byte{}, Tag: "SELECT 0"},
		"no fields": {Fields: []pgconn.FieldDescription{}, Rows: [][][]byte{{}, {}}, Tag: "SELECT 2"},
	}
	for name, w := range cases {
		got, err := DecodeWire(w.Encode())
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(got, w) {
			t.Fatalf("%s:\n%#v\n%#v", name, w, got)
		}
		// NULL and an empty value stay apart.
		for i, row := range w.Rows {
			for j, v := range row {
				if (v == nil) != (got.Rows[i][j] == nil) {
					t.Fatalf("%s: row %d value %d: NULL not kept apart from empty", name, i, j)
				}
			}
		}
	}
}

func TestWireValuesCannotBeAppendedOver(t *testing.T) {
	got, err := DecodeWire(sampleWire().Encode())
	if err != nil {
		t.Fatal(err)
	}
	_ = append(got.Rows[0][1], 'X') // a caller appending to a value
	if string(got.Rows[0][2]) != "" || got.Rows[0][2] == nil {
		t.Fatalf("an append changed the next value: %q", got.Rows[0][2])
	}
}

func TestWireRefusesWhatItDidNotWrite(t *testing.T) {
	good := sampleWire().Encode()
	for _, b := range [][]byte{
		nil, {}, {1}, {3, 0}, good[:len(good)-1], append(append([]byte{}, good...), 0),
		{2, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, // a huge field count
		{2, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},                         // a huge row count with no fields
	} {
		if _, err := DecodeWire(b); err == nil {
			t.Fatalf("%x: no error", b)
		}
	}
	// A database/sql payload is not a wire payload, and the other way round.
	if _, err := Decode(good); err == nil {
		t.Fatal("Decode accepted a wire payload")
	}
}

func FuzzWirePayload(f *testing.F) {
	f.Add(sampleWire().Encode())
	f.Add([]byte{2, 1, 0})
	f.Add([]byte{2, 0, 0, 5})
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := DecodeWire(b)
		if err != nil {
			return
		}
		// Whatever decodes encodes to bytes that decode to the same result
		// (an over-long varint is read, and written short).
		again, err := DecodeWire(w.Encode())
		if err != nil || !reflect.DeepEqual(again, w) {
			t.Fatalf("%x: re-encoded: %v\n%#v\n%#v", b, err, w, again)
		}
	})
}
