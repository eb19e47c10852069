// Package catalog reads what cacheops needs to know about a database's schema
// from pg_catalog, once per database and again after DDL: relations (kind,
// persistence, row level security, user triggers and rules), inheritance and
// partitions, foreign keys with their cascading actions, the base relations
// and functions of views, and the volatility of every function.
//
// The catalog is read in a handful of queries on a connection that is not in
// a transaction, never on the hot path: plans resolved against it are cached.
package catalog
