// Package otel traces and measures a cacheops cache with OpenTelemetry:
//
//	cache, _ := cacheops.New(cacheops.Options{Hooks: cacheopsotel.Hooks()})
//
// Each lookup (hit or miss), guarded store and invalidation becomes a span
// under the caller's span, timed as it ran, with the statement and the
// tables it depends on as attributes, and feeds two instruments:
// cacheops.operations (a counter) and cacheops.operation.duration (a
// histogram, seconds), both by operation and result. It is a module of its
// own, so that cacheops itself does not depend on OpenTelemetry.
package otel
