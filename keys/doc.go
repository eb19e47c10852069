// Package keys analyses SQL with the real PostgreSQL parser (pg_query) and
// derives everything the cache needs from it: the statement kind, the
// relations read and written, whether a read is deterministic enough to be
// cached, the dependency (stamp) keys of a read and the entry key of a call.
//
// # Two stages
//
// Analyse is pure: it depends on the SQL text alone and is cached by text in an
// LRU, so the hot path never parses. Resolve binds an analysis to a catalog and
// a session (search_path, role, temporary tables) and yields a Plan; plans are
// cached per session fingerprint, so the hot path does no catalog work either.
package keys
