// Package lua is the Redis side of cacheops: the lookup, store and invalidate
// steps as Lua scripts (embedded .lua files run with EVALSHA), every key they
// touch passed in KEYS (the suite checks it under MONITOR), as Dragonfly
// requires without allow-undeclared-keys and Redis Cluster requires of a
// script's keys. The keys of one step do not share a hash slot yet, so Redis
// Cluster is not supported: New refuses a cluster client.
//
// # Stamps
//
// A stamp is a key holding a random token. An entry's value starts with the
// tokens of the stamps it depends on, in the order of its stamp keys; it is
// valid only while every stamp still holds the token recorded in it.
// Invalidation deletes stamps. The store script is a compare-and-set on the
// tokens a reader saw before it ran its query: the stale-fill guard.
//
// # Invalidation of any size, against a current schema
//
// Lua's unpack stops near 8,000 values, so the invalidation script deletes
// its keys in chunks, and an invalidation past MaxStampsPerCall stamps goes
// as several script calls in one pipeline: deletion is idempotent, so one
// that is partly delivered is sent again whole. The script also checks,
// before it deletes anything, that the schema stamp still holds the token
// the writer's catalog was read under (SchemaToken): when it does not, the
// writer planned with an old catalog — a trigger, a cascade or row security
// may have been added since — and invalidates the whole database.
package lua
