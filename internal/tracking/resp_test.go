package tracking

import (
	"bufio"
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestReadValue(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		want     any
		err      bool
	}{
		{"simple", "+PONG\r\n", "PONG", false},
		{"integer", ":42\r\n", int64(42), false},
		{"bulk", "$3\r\na\r\n\r\n", "a\r\n", false},
		{"null bulk", "$-1\r\n", nil, false},
		{"null", "_\r\n", nil, false},
		{"array", "*2\r\n$1\r\na\r\n:1\r\n", []any{"a", int64(1)}, false},
		{"map", "%1\r\n+k\r\n+v\r\n", []any{"k", "v"}, false},
		{"invalidate", ">2\r\n$10\r\ninvalidate\r\n*1\r\n$3\r\nkey\r\n", push{"invalidate", []any{"key"}}, false},
		{"flush", ">2\r\n$10\r\ninvalidate\r\n_\r\n", push{"invalidate", nil}, false},
		{"attribute", "|1\r\n+a\r\n+b\r\n+PONG\r\n", "PONG", false},
		{"error", "-ERR no\r\n", nil, true},
		{"error in array", "*1\r\n-ERR no\r\n", []any{replyError("ERR no")}, false},
		{"bad type", "?\r\n", nil, true},
		{"no CR", "+PONG\n", nil, true},
		{"short bulk", "$5\r\nab", nil, true},
		{"huge", "*999999999\r\n", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := readValue(bufio.NewReader(strings.NewReader(tc.in)))
			if (err != nil) != tc.err {
				t.Fatalf("err = %v, want error %v", err, tc.err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("got %#v, want %#v", got, tc.want)
			}
		})
	}
	var re replyError
	if _, err := readValue(bufio.NewReader(strings.NewReader("-ERR no\r\n"))); !errors.As(err, &re) {
		t.Fatalf("an error reply reads as %v", err)
	}
}

func TestAppendCommand(t *testing.T) {
	got := string(appendCommand(nil, "PING", "a b"))
	if want := "*2\r\n$4\r\nPING\r\n$3\r\na b\r\n"; got != want {
		t.Fatalf("%q, want %q", got, want)
	}
}
