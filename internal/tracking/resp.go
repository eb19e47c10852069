package tracking

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// push is a RESP3 out-of-band message (">"), as its elements.
type push []any

// replyError is an error reply ("-" or "!").
type replyError string

func (e replyError) Error() string { return "redis: " + string(e) }

// errProtocol is a reply this reader does not understand.
var errProtocol = errors.New("tracking: RESP3 protocol error")

// maxAggregate bounds an aggregate's length, so that a corrupt header
// cannot make the reader allocate without bound.
const maxAggregate = 1 << 24

// readValue reads one RESP3 value: strings as string, integers as int64,
// null as nil, aggregates as []any (maps flattened), pushes as push.
// Attributes are read and dropped.
func readValue(r *bufio.Reader) (any, error) {
	line, err := r.ReadSlice('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 || line[len(line)-2] != '\r' {
		return nil, fmt.Errorf("%w: line %q", errProtocol, line)
	}
	kind, body := line[0], string(line[1:len(line)-2])
	switch kind {
	case '+':
		return body, nil
	case '-':
		return nil, replyError(body)
	case ':':
		n, err := strconv.ParseInt(body, 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: integer %q", errProtocol, body)
		}
		return n, nil
	case '_':
		return nil, nil
	case '#', ',', '(':
		return body, nil
	case '$', '=', '!':
		n, err := strconv.Atoi(body)
		if err != nil || n > maxAggregate*64 {
			return nil, fmt.Errorf("%w: length %q", errProtocol, body)
		}
		if n < 0 {
			return nil, nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, err
		}
		if kind == '!' {
			return nil, replyError(buf[:n])
		}
		return string(buf[:n]), nil
	case '*', '~', '>', '%', '|':
		n, err := strconv.Atoi(body)
		if err != nil || n > maxAggregate {
			return nil, fmt.Errorf("%w: length %q", errProtocol, body)
		}
		if n < 0 {
			return nil, nil
		}
		if kind == '%' || kind == '|' {
			n *= 2
		}
		out := make([]any, 0, min(n, 1024))
		for range n {
			v, err := readValue(r)
			var re replyError
			switch {
			case errors.As(err, &re):
				v = re // an error inside an aggregate is one of its values
			case err != nil:
				return nil, err
			}
			out = append(out, v)
		}
		switch kind {
		case '>':
			return push(out), nil
		case '|':
			return readValue(r) // the value the attribute describes
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: type %q", errProtocol, kind)
}

// appendCommand appends args as a RESP array of bulk strings.
func appendCommand(b []byte, args ...string) []byte {
	b = append(b, '*')
	b = strconv.AppendInt(b, int64(len(args)), 10)
	b = append(b, '\r', '\n')
	for _, a := range args {
		b = append(b, '$')
		b = strconv.AppendInt(b, int64(len(a)), 10)
		b = append(b, '\r', '\n')
		b = append(b, a...)
		b = append(b, '\r', '\n')
	}
	return b
}
