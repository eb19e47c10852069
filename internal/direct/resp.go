package direct

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unsafe"
)

// ReplyError is an error reply. It satisfies go-redis' redis.Error, so
// callers tell it from a network error (and read MOVED, NOPERM, …) the way
// they do go-redis' own.
type ReplyError string

func (e ReplyError) Error() string { return string(e) }

// RedisError marks a reply from the server (go-redis' redis.Error).
func (ReplyError) RedisError() {}

// ErrProtocol is a reply this reader does not understand; the connection is
// dropped.
var ErrProtocol = errors.New("direct: RESP protocol error")

func protocolError(want string, kind byte) error {
	return fmt.Errorf("%w: %s expected, %q read", ErrProtocol, want, kind)
}

// maxBulk bounds a bulk string's length (Redis' own proto-max-bulk-len
// default), so that a corrupt header cannot make the reader allocate
// without bound.
const maxBulk = 512 << 20

func appendHeader(b []byte, kind byte, n int) []byte {
	b = append(b, kind)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, '\r', '\n')
}

func appendBulk(b []byte, s string) []byte {
	b = appendHeader(b, '$', len(s))
	b = append(b, s...)
	return append(b, '\r', '\n')
}

func appendCommand(b []byte, args []string) []byte {
	b = appendHeader(b, '*', len(args))
	for _, a := range args {
		b = appendBulk(b, a)
	}
	return b
}

// readLine reads one line: its type byte and the rest, without "\r\n". The
// rest is only valid until the next read.
func readLine(r *bufio.Reader) (kind byte, rest string, err error) {
	line, err := r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		return 0, "", fmt.Errorf("%w: a line longer than %d bytes", ErrProtocol, r.Size())
	}
	if err != nil {
		return 0, "", err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return 0, "", fmt.Errorf("%w: line %q", ErrProtocol, line)
	}
	return line[0], unsafe.String(&line[1], len(line)-3), nil
}

// readLength reads a header's length (-1 for a null).
func readLength(rest string, limit int) (int, error) {
	n, err := strconv.Atoi(rest)
	if err != nil || n < -1 || n > limit {
		return 0, fmt.Errorf("%w: length %q", ErrProtocol, rest)
	}
	return n, nil
}

// readStrings reads an array reply of bulk strings (or nulls) into out, its
// length len(out). The strings share one buffer, allocated for the first
// of them with room for small ones after it (a hit's entry, then its
// stamps' tokens); one that does not fit has its own.
func readStrings(r *bufio.Reader, out []Value) error {
	kind, rest, err := readLine(r)
	if err != nil {
		return err
	}
	switch kind {
	case '-':
		return ReplyError(strings.Clone(rest))
	case '*':
	default:
		return protocolError("an array", kind)
	}
	n, err := readLength(rest, len(out))
	if err != nil || n != len(out) {
		return fmt.Errorf("%w: %d values for %d keys", ErrProtocol, n, len(out))
	}
	var buf []byte
	for i := range out {
		kind, rest, err := readLine(r)
		if err != nil {
			return err
		}
		if kind != '$' {
			return protocolError("a bulk string", kind)
		}
		size, err := readLength(rest, maxBulk)
		if err != nil {
			return err
		}
		if size < 0 {
			out[i] = Value{Nil: true}
			continue
		}
		var dst []byte
		if len(buf)+size <= cap(buf) {
			dst = buf[len(buf) : len(buf)+size]
			buf = buf[:len(buf)+size]
		} else if buf == nil {
			buf = make([]byte, size, size+32*(len(out)-i-1))
			dst = buf
		} else {
			dst = make([]byte, size)
		}
		if _, err := io.ReadFull(r, dst); err != nil {
			return err
		}
		if err := readCRLF(r); err != nil {
			return err
		}
		out[i] = Value{S: unsafe.String(unsafe.SliceData(dst), size)}
	}
	return nil
}

func readCRLF(r *bufio.Reader) error {
	cr, err := r.ReadByte()
	if err != nil {
		return err
	}
	lf, err := r.ReadByte()
	if err != nil {
		return err
	}
	if cr != '\r' || lf != '\n' {
		return fmt.Errorf("%w: a bulk string not ended by CRLF", ErrProtocol)
	}
	return nil
}
