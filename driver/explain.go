package driver

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/cacheops/cacheops/internal/pgparse"
	"github.com/cacheops/cacheops/keys"
)

// Explanation is what the cache does with a statement on a connection, as
// `cacheops explain` prints it.
type Explanation struct {
	// Cacheable: a read the cache answers (unless Skipped).
	Cacheable bool
	// Reason says why a statement is not cached.
	Reason string
	// Skipped: a control keeps this cacheable read from the cache (a
	// nocache hint, a table rule, the context).
	Skipped bool
	// TTL of the entry it would store.
	TTL time.Duration
	// Tables are the relations a read depends on.
	Tables []string
	// Conjunctions are the rows whose change invalidates the read, per
	// relation, as "relation: col = value AND …" ("relation: any row").
	Conjunctions []string
	// EntryKey and Stamps are its Redis keys: the entry and every stamp it
	// is checked against.
	EntryKey string
	Stamps   []string
	// Hints are its hint comments' directives (Unknown: ignored ones).
	Hints keys.Hints
	// Writes say what each statement that changes something invalidates.
	Writes []string
	// Parser names the SQL parser this build uses.
	Parser string
}

// Explain tells what the cache would do with sql and args on this
// connection, without running it.
func (c *Conn) Explain(ctx context.Context, sql string, args []driver.NamedValue) (Explanation, error) {
	if !c.sess.ok {
		if err := c.readSession(ctx); err != nil {
			return Explanation{}, err
		}
	}
	p := c.plan(ctx, sql)
	ex := Explanation{Cacheable: p.Cacheable, Reason: p.Reason, Hints: p.Hints, Parser: pgparse.Engine}
	for _, s := range p.Steps {
		if w := describeStep(s); w != "" {
			ex.Writes = append(ex.Writes, w)
		}
	}
	if !p.Cacheable {
		return ex, nil
	}
	ctl := c.readControl(ctx, p)
	ex.Skipped, ex.TTL, ex.Tables = ctl.skip, ctl.ttl, p.Deps
	key, ok := keys.EntryKey(p.entryPrefix, c.sess.namespace, p.keyText(sql), args)
	if !ok {
		ex.Cacheable, ex.Reason = false, "an argument of a type that cannot be keyed"
		return ex, nil
	}
	ex.EntryKey = key
	stamps, inst := c.sess.db.readKeys(p, args)
	ex.Stamps = stamps
	for _, in := range inst {
		ex.Conjunctions = append(ex.Conjunctions, describeConj(in))
	}
	sort.Strings(ex.Conjunctions)
	return ex, nil
}

func describeConj(in keys.ConjInstance) string {
	if in.Scheme == "" {
		return in.Rel + ": any row"
	}
	var terms []string
	for i, col := range keys.SchemeColumns(in.Scheme) {
		terms = append(terms, fmt.Sprintf("%s = %s", col, in.Values[i]))
	}
	return in.Rel + ": " + strings.Join(terms, " AND ")
}

// describeStep says what a statement with effects invalidates; "" for a
// read or a pass-through.
func describeStep(s keys.Step) string {
	var parts []string
	switch {
	case s.Global:
		parts = append(parts, "every entry of the database")
	case s.Capture != nil:
		parts = append(parts, "the rows it changes (read back with a hidden RETURNING) in "+strings.Join(s.Capture.Targets, ", "))
	case s.Predicate != nil:
		parts = append(parts, "the rows its WHERE names in "+strings.Join(s.Predicate.Targets, ", "))
	}
	if rels := s.Relations(); len(rels) > 0 && s.Capture == nil && s.Predicate == nil && !s.Global {
		parts = append(parts, "whole: "+strings.Join(rels, ", "))
	} else if len(rels) > 0 && (s.Capture != nil || s.Predicate != nil) {
		parts = append(parts, "and what they cascade to: "+strings.Join(rels, ", "))
	}
	if s.Schema {
		parts = append(parts, "a schema change: every process reloads its catalog")
	}
	if s.CommitsInside {
		parts = append(parts, "also after an error (it may have committed inside)")
	}
	if len(parts) == 0 {
		return ""
	}
	return s.Kind.String() + ": " + strings.Join(parts, "; ")
}
