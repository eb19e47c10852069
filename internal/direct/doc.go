// Package direct reads keys from one Redis server over connections of its
// own, for a cache hit's one round trip: the calling goroutine writes the
// MGET and reads its reply into one buffer the caller then owns.
//
// A general client (go-redis) pays per command for what a hit does not
// need: a system call to check each pooled connection's health, hooks,
// arguments and replies boxed one by one, a copy of every value. Measured
// on loopback, a GET of 1 KB costs 4–5 µs less this way, which is most of
// what a cached read adds to its round trip.
//
// The connections speak RESP2 and are set up as the client's own would
// be: the same dialer (TLS included), credentials, database and client
// name. A pooled connection the server closed while it was idle is found
// when it is used; the read is then made once more on a new connection (an
// MGET may be repeated).
package direct
