//go:build !cgo || cacheops_purego

package pgparse

import (
	pg_query "github.com/pganalyze/pg_query_go/v6"
	wasm "github.com/wasilibs/go-pgquery"
)

// Engine names the parser this build uses.
const Engine = "pure Go (go-pgquery on wazero)"

// Parse parses SQL into PostgreSQL's parse tree.
func Parse(sql string) (*pg_query.ParseResult, error) { return wasm.Parse(sql) }

// Scan splits SQL into PostgreSQL's tokens, comments included.
func Scan(sql string) (*pg_query.ScanResult, error) { return wasm.Scan(sql) }

// Deparse turns a parse tree back into SQL.
func Deparse(tree *pg_query.ParseResult) (string, error) { return wasm.Deparse(tree) }
