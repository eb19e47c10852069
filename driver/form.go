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
	// tee hands rows to the caller as they come and records them (up to
	// MaxRows). done is called once, when the rows are over or closed (rows
	// closed early are first read to the end into the recording): ok false
	// when the result was larger or held a value that cannot be stored;
	// ended is an error that ended the rows. The rows tell p when the
	// caller is reading them.
	tee(c *Conn, rows R, p progress, done func(rec T, ok bool, ended error)) R
	encode(rec T) ([]byte, error)
	// decode reads a payload as a lookup returned it: it may keep it and
	// must never write it (its bytes are the Redis reply's).
	decode(payload []byte) (T, error)
	// fits reports whether a recording (perhaps made on another
	// connection) is exactly what this call would have returned; one that
	// does not is neither served nor deleted.
	fits(rec T) bool
	// replay serves a recording.
	replay(rec T) R
}

// progress learns when a miss's caller is inside its rows' Next.
type progress interface{ reading(in bool) }
