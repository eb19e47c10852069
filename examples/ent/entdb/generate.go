// Package entdb is the ent client generated from ./schema
// (go generate ./... in the examples module).
package entdb

//go:generate go run -mod=mod entgo.io/ent/cmd/ent generate ./schema
