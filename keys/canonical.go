package keys

import (
	"database/sql/driver"
	"encoding/hex"
	"math"
	"math/big"
	"reflect"
	"strconv"
	"strings"

	"github.com/cacheops/cacheops/catalog"
)

// Null is the canonical form of SQL NULL (IS NULL terms and NULL row values).
// No canonical value of any kind can equal it: PostgreSQL text cannot hold
// a NUL byte.
const Null = "\x00"

// NumericLiteral is a SQL numeric constant such as 3.0 or 1e3: compared with
// an integer column it means the integer it equals, if any.
type NumericLiteral string

// Canonical returns the one text form v takes for a column of kind k, so that
// a read's argument, a SQL literal and a value a write returned meet at the
// same conjunction key: for an int column 3, int64(3), int32(3), "3", "03"
// and 3.0 are all "3". ok is false when v has no form for k that PostgreSQL
// would agree with; the caller then drops the term, which is always correct.
func Canonical(k catalog.ValueKind, v any) (string, bool) {
	v, ok := deref(v)
	if !ok {
		return "", false
	}
	if v == nil {
		return Null, true
	}
	switch k {
	case catalog.IntKind:
		return canonicalInt(v)
	case catalog.BoolKind:
		return canonicalBool(v)
	case catalog.TextKind, catalog.EnumKind:
		switch s := v.(type) {
		case string:
			return s, true
		case []byte:
			return string(s), true
		}
	case catalog.UUIDKind:
		return canonicalUUID(v)
	}
	return "", false
}

// deref unwraps pointers and driver.Valuers down to a plain value.
func deref(v any) (out any, ok bool) {
	defer func() {
		if recover() != nil {
			out, ok = nil, false
		}
	}()
	for i := 0; i < 8; i++ {
		if v == nil {
			return nil, true
		}
		if dv, isValuer := v.(driver.Valuer); isValuer {
			var err error
			if v, err = dv.Value(); err != nil {
				return nil, false
			}
			continue
		}
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Pointer {
			return v, true
		}
		if rv.IsNil() {
			return nil, true
		}
		v = rv.Elem().Interface()
	}
	return nil, false
}

func canonicalInt(v any) (string, bool) {
	if n, ok := v.(NumericLiteral); ok {
		r, ok := new(big.Rat).SetString(string(n))
		if !ok || !r.IsInt() || !r.Num().IsInt64() {
			return "", false
		}
		return r.Num().String(), true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(rv.Int(), 10), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if rv.Uint() > math.MaxInt64 {
			return "", false
		}
		return strconv.FormatUint(rv.Uint(), 10), true
	case reflect.Float32, reflect.Float64:
		f := rv.Float()
		if f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return "", false
		}
		return strconv.FormatInt(int64(f), 10), true
	case reflect.String:
		return parseIntText(rv.String())
	case reflect.Slice:
		if b, ok := v.([]byte); ok {
			return parseIntText(string(b))
		}
	}
	return "", false
}

// parseIntText accepts what int8in accepts on every supported PostgreSQL
// version: optional white space, an optional sign and decimal digits. Newer
// spellings (0x1F, 1_000) are refused, so the term is dropped.
func parseIntText(s string) (string, bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", false
	}
	for i, c := range s {
		if !(c >= '0' && c <= '9' || i == 0 && (c == '+' || c == '-')) {
			return "", false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return "", false
	}
	return strconv.FormatInt(n, 10), true
}

// canonicalBool follows boolin: any unique prefix of true/false/yes/no, on,
// off, 1 and 0, case-insensitive, surrounding white space ignored.
func canonicalBool(v any) (string, bool) {
	var s string
	switch x := v.(type) {
	case bool:
		if x {
			return "t", true
		}
		return "f", true
	case string:
		s = x
	case []byte:
		s = string(x)
	default:
		return "", false
	}
	s = strings.ToLower(strings.TrimSpace(s))
	switch {
	case s == "":
		return "", false
	case strings.HasPrefix("true", s) || strings.HasPrefix("yes", s) || s == "on" || s == "1":
		return "t", true
	case strings.HasPrefix("false", s) || strings.HasPrefix("no", s) || s == "of" || s == "off" || s == "0":
		return "f", true
	}
	return "", false
}

// canonicalUUID accepts uuid_in's spellings (upper or lower case, braces,
// hyphens after any group of four digits) and [16]byte.
func canonicalUUID(v any) (string, bool) {
	var s string
	switch x := v.(type) {
	case [16]byte:
		s = hex.EncodeToString(x[:])
	case string:
		s = x
	default:
		return "", false
	}
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
		s = s[1 : len(s)-1]
	}
	var digits strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
			digits.WriteByte(c)
		case c >= 'A' && c <= 'F':
			digits.WriteByte(c + 'a' - 'A')
		case c == '-' && digits.Len()%4 == 0 && digits.Len() > 0 && i+1 < len(s) && s[i+1] != '-':
		default:
			return "", false
		}
	}
	h := digits.String()
	if len(h) != 32 {
		return "", false
	}
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:], true
}
