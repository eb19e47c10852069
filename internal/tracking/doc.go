// Package tracking keeps a connection to one Redis server that tells, in
// broadcast mode (CLIENT TRACKING ON BCAST), of every change to the keys
// under some prefixes, and confirms it is alive with PINGs on the same
// connection. Redis writes a change's invalidation message to the tracking
// connection before it answers the command that made it, and answers a
// PING after everything it wrote before it: when a PING sent at t has been
// answered, every change made before t has been handled. That ordering is
// the promise of cacheops' local layer.
//
// The connection is its own (a small RESP3 reader, not a go-redis pool
// connection): a pool could replace it silently by one that tracks nothing.
package tracking
