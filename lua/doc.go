// Package lua is the Redis side of cacheops: the lookup, store and invalidate
// steps as Lua scripts (embedded .lua files run with EVALSHA), every key they
// touch passed in KEYS (the suite checks it under MONITOR), as Dragonfly
// requires without allow-undeclared-keys and Redis Cluster requires of a
// script's keys. The scripts run on Lua 5.1 (Redis) and 5.4 (Dragonfly).
//
// # Stamps
//
// A stamp is a key holding a random token. An entry's value starts with the
// tokens of the stamps it depends on, in the order of its stamp keys; it is
// valid only while every stamp still holds the token recorded in it.
// Invalidation deletes stamps. The store script is a compare-and-set on the
// tokens a reader saw before it ran its query: the stale-fill guard.
//
// # Single node and cluster: one set of steps
//
// Every step takes its keys as a list and groups them by hash slot (Slot,
// Redis Cluster's own function, so no command ever spans two slots). On a
// single node or a Sentinel-managed master there is one group and a step
// is one command or one script call. On a cluster each slot gets its own
// MGET or script call, all sent in one pipeline: go-redis sends each node
// its part, nodes in parallel, so a step still costs one round trip of wall
// time. Which keys share a slot is the caller's key layout (the driver tags
// a relation's keys alike); this package only never mixes slots.
//
// Why per-slot steps are as correct as one atomic step:
//
//   - A hit needs no cross-slot atomicity. A stamp's token is never reused:
//     once a stamp stops holding the token an entry recorded (deleted,
//     expired, replaced), it never holds it again, since a new token is
//     random. A write that finished before a read began has deleted its
//     stamps before the read's MGETs run, whenever each slot's MGET runs;
//     the read finds them missing or holding new tokens, and misses. No
//     interleaving of per-slot reads can show an old token a finished write
//     removed.
//   - The stale-fill guard stays sound per slot. A miss reads (or creates)
//     every stamp's token before its query. The store then checks, in each
//     slot, that slot's stamps against the tokens read; the entry is stored
//     by its own slot's call. If a stamp of another slot changed meanwhile,
//     the entry may still be stored — with the old token in its header, which
//     no lookup accepts: the guard's refusal is an optimisation there, the
//     header is the proof.
//   - Invalidation is idempotent deletion, so it is split freely: per slot,
//     per MaxStampsPerCall stamps (Lua's unpack stops near 8,000 values),
//     in one pipeline; the calls that fail come back as undelivered and are
//     sent again. A master that lost its scripts answers NOSCRIPT, which a
//     pipeline cannot fall back from: those calls go again by EVAL. A
//     write's usual invalidation is no script at all but plain commands
//     (plainCall): its checks need no atomicity, and a script costs Redis
//     several times what they do.
//
// # Schema checks
//
// The invalidation also checks, before it deletes anything in a
// slot, that the schema stamps given for that slot still hold the tokens the
// writer's catalog was read under (SchemaTokens): when one does not, the
// writer planned with an old catalog — a trigger, a cascade or row security
// may have been added since — and invalidates the whole database. Every
// schema change deletes every copy of the schema stamp, so checking the
// copies in the writer's own slots sees it.
//
// # Replicas
//
// SetWaitReplicas makes an invalidation send WAIT on the connection that
// carried it (per master on a cluster), so a failover cannot promote a
// replica that still holds a deleted stamp; an invalidation too few
// replicas acknowledged fails with ErrNotReplicated and is sent again.
package lua
