// Package lua is the Redis side of cacheops: the lookup, store and invalidate
// steps as Lua scripts (embedded .lua files run with EVALSHA), every key they
// touch passed in KEYS so they run unchanged on Redis Cluster (per slot) and
// on Dragonfly.
//
// # Stamps
//
// A stamp is a key holding a random token. An entry's value starts with the
// tokens of the stamps it depends on, in the order of its stamp keys; it is
// valid only while every stamp still holds the token recorded in it.
// Invalidation deletes stamps. The store script is a compare-and-set on the
// tokens a reader saw before it ran its query: the stale-fill guard.
package lua
