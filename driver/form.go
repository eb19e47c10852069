package driver

import "context"

// resultForm is one API's way of running a cacheable read, recording its
// result whole, encoding the recording for Redis and replaying it:
// database/sql's (driver.Rows recorded as a serialize.Result) or pgx's own
// (pgx.Rows recorded as a serialize.Wire). The read path — lookup,
// registration, the stale-fill guard, single-flight, the fill lock — is one
// code for both (cachedRead, missRead); only these steps differ.
type resultForm[R, T any] interface {
	// run runs the query on the connection.
	run(ctx context.Context) (R, error)
	// record reads rows whole, up to MaxRows. When the result is larger or
	// holds a value that cannot be stored, ok is false and rest streams the
	// whole result on (the rows read so far first). ended is an error that
	// ended the rows early.
	record(c *Conn, rows R) (rec T, ended error, rest R, ok bool)
	encode(rec T) ([]byte, error)
	decode(payload []byte) (T, error)
	// fits reports whether a recording (perhaps made on another
	// connection) is exactly what this call would have returned; one that
	// does not is neither served nor deleted.
	fits(rec T) bool
	// replay serves a recording, ending with ended when it is set.
	replay(rec T, ended error) R
}
