//go:build cgo && !cacheops_purego

package pgparse

import pg_query "github.com/pganalyze/pg_query_go/v6"

// Engine names the parser this build uses.
const Engine = "cgo (pg_query_go)"

// Parse parses SQL into PostgreSQL's parse tree.
func Parse(sql string) (*pg_query.ParseResult, error) { return pg_query.Parse(sql) }

// Scan splits SQL into PostgreSQL's tokens, comments included.
func Scan(sql string) (*pg_query.ScanResult, error) { return pg_query.Scan(sql) }

// Deparse turns a parse tree back into SQL.
func Deparse(tree *pg_query.ParseResult) (string, error) { return pg_query.Deparse(tree) }
