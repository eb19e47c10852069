// Package pgparse is PostgreSQL's parser, as libpg_query builds it, in
// one of two forms chosen at build time:
//
//   - where cgo is enabled (a C compiler is found, building for this
//     machine), github.com/pganalyze/pg_query_go: libpg_query's C code
//     linked in;
//   - where it is not (CGO_ENABLED=0, no C compiler, cross-compiling), or
//     with the build tag cacheops_purego, github.com/wasilibs/go-pgquery:
//     the same C code compiled to WebAssembly and run by wazero, pure Go.
//
// Both return pg_query_go's protobuf tree, so the analysis is one code for
// both. cgo is the default because it is cheaper where it can be had
// (make bench measures both): the WebAssembly module is compiled when the
// first statement is parsed, about 2 s into a process here, and each parse
// costs about 3x the C parser's (parses are cached per SQL text, so only a
// process' first statements pay it).
package pgparse
