// Package serialize encodes a query result (column metadata and rows of
// driver.Value) with msgpack, and decodes it back to exactly the same Go
// values: int64, float64 (NaN and ±Inf bit for bit), bool, string, []byte
// (nil and empty kept apart), time.Time (instant, location and zone name).
//
// Wire is the form of pgx's own interface: field descriptions, every value
// as PostgreSQL sent it, the command tag. Each form's payloads start with a
// format byte of their own, and neither decoder reads the other's.
//
// A decoder fed foreign or truncated bytes returns an error, never panics and
// never allocates more than the input could describe.
package serialize
