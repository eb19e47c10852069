package serialize

import (
	"database/sql"
	"encoding/json"
	"net"
	"reflect"
	"time"
)

// Column is what database/sql can learn about a result column from a driver.
// Each Has… flag records whether the driver answered that question, so that a
// replayed result answers exactly as the original did.
type Column struct {
	Name             string
	DatabaseTypeName string
	ScanType         reflect.Type // nil: the driver did not say
	Length           int64
	HasLength        bool
	Nullable         bool
	HasNullable      bool
	Precision, Scale int64
	HasDecimalSize   bool
}

// scanTypes are the scan types a result may report; an index into this list
// is what is stored. A result reporting any other type is not cached.
var scanTypes = []reflect.Type{
	nil,
	reflect.TypeFor[any](),
	reflect.TypeFor[string](),
	reflect.TypeFor[[]byte](),
	reflect.TypeFor[bool](),
	reflect.TypeFor[int](),
	reflect.TypeFor[int8](),
	reflect.TypeFor[int16](),
	reflect.TypeFor[int32](),
	reflect.TypeFor[int64](),
	reflect.TypeFor[uint8](),
	reflect.TypeFor[uint16](),
	reflect.TypeFor[uint32](),
	reflect.TypeFor[uint64](),
	reflect.TypeFor[float32](),
	reflect.TypeFor[float64](),
	reflect.TypeFor[time.Time](),
	reflect.TypeFor[sql.RawBytes](),
	reflect.TypeFor[sql.NullString](),
	reflect.TypeFor[sql.NullInt64](),
	reflect.TypeFor[sql.NullInt32](),
	reflect.TypeFor[sql.NullInt16](),
	reflect.TypeFor[sql.NullFloat64](),
	reflect.TypeFor[sql.NullBool](),
	reflect.TypeFor[sql.NullTime](),
	reflect.TypeFor[json.RawMessage](),
	reflect.TypeFor[net.IP](),
}

func scanTypeID(t reflect.Type) (int, bool) {
	for i, s := range scanTypes {
		if s == t {
			return i, true
		}
	}
	return 0, false
}
