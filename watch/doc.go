// Package watch follows a PostgreSQL database's committed changes through
// logical decoding (the built-in pgoutput plugin, a publication FOR ALL
// TABLES and a replication slot) and turns each committed INSERT, UPDATE,
// DELETE and TRUNCATE into the stamp deletions a write through cacheops
// would make: writes made by anything else — psql, migrations, other
// programs, an unwrapped pool, COPY — invalidate too.
//
// DDL is not decoded by PostgreSQL: an event trigger the watcher installs
// emits a logical message with each DDL statement, and its transaction is
// taken as a schema change (catalogs reload, the database's entries go).
//
// Delivery is at least once: the slot's confirmed position moves past a
// transaction only once its invalidation has reached Redis, so a watcher
// restarted, a Redis outage or a PostgreSQL restart loses nothing (the
// changes are decoded again). Decoding and delivery run apart: what queues
// up while one delivery runs goes in the next, merged.
//
// The lag is measured, not estimated: a probe commits a logical message
// carrying the time of the Redis that holds the heartbeat; when the watcher
// reaches it with everything before it delivered, every change committed
// before that time is invalidated, and the time becomes the heartbeat that
// readers compare with their WatchMaxLag (on the same Redis clock).
package watch
