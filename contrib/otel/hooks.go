package otel

import (
	"context"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/cacheops/cacheops"
)

// ScopeName is the instrumentation scope of the spans and instruments.
const ScopeName = "github.com/cacheops/cacheops/contrib/otel"

type config struct {
	tp trace.TracerProvider
	mp metric.MeterProvider
}

// Option configures Hooks.
type Option func(*config)

// WithTracerProvider uses tp instead of the global tracer provider.
func WithTracerProvider(tp trace.TracerProvider) Option { return func(c *config) { c.tp = tp } }

// WithMeterProvider uses mp instead of the global meter provider.
func WithMeterProvider(mp metric.MeterProvider) Option { return func(c *config) { c.mp = mp } }

// Hooks returns cacheops hooks that record spans and metrics.
func Hooks(opts ...Option) cacheops.Hooks {
	c := config{tp: otel.GetTracerProvider(), mp: otel.GetMeterProvider()}
	for _, o := range opts {
		o(&c)
	}
	tracer := c.tp.Tracer(ScopeName)
	meter := c.mp.Meter(ScopeName)
	ops, _ := meter.Int64Counter("cacheops.operations", metric.WithDescription("Cache operations, by operation and result."))
	dur, _ := meter.Float64Histogram("cacheops.operation.duration", metric.WithUnit("s"),
		metric.WithDescription("Time of the Redis step of each cache operation, by operation and result."))
	record := func(op, result string) func(context.Context, cacheops.Event) {
		return func(ctx context.Context, e cacheops.Event) {
			attrs := []attribute.KeyValue{attribute.String("cacheops.operation", op), attribute.String("cacheops.result", result)}
			set := metric.WithAttributes(attrs...)
			ops.Add(ctx, 1, set)
			dur.Record(ctx, e.Duration.Seconds(), set)
			if e.Start.IsZero() {
				return // nothing timed: no span to place
			}
			if e.SQL != "" {
				attrs = append(attrs, attribute.String("db.system.name", "postgresql"), attribute.String("db.query.text", e.SQL))
			}
			if len(e.Tables) > 0 {
				attrs = append(attrs, attribute.StringSlice("cacheops.tables", e.Tables))
			}
			if e.Bytes > 0 {
				attrs = append(attrs, attribute.Int("cacheops.bytes", e.Bytes))
			}
			if e.Stamps > 0 {
				attrs = append(attrs, attribute.Int("cacheops.stamps", e.Stamps))
			}
			_, span := tracer.Start(ctx, "cacheops."+op, trace.WithTimestamp(e.Start), trace.WithAttributes(attrs...),
				trace.WithSpanKind(trace.SpanKindClient))
			if e.Err != nil {
				span.RecordError(e.Err)
				span.SetStatus(codes.Error, e.Err.Error())
			}
			span.End(trace.WithTimestamp(e.Start.Add(e.Duration)))
		}
	}
	invalidate := record("invalidate", "delivered")
	kept := record("invalidate", "kept")
	hit, localHit := record("lookup", "hit"), record("lookup", "local_hit")
	return cacheops.Hooks{
		Hit: func(ctx context.Context, e cacheops.Event) {
			if e.Local {
				localHit(ctx, e)
				return
			}
			hit(ctx, e)
		},
		Miss:      record("lookup", "miss"),
		Store:     record("store", "stored"),
		GuardDrop: record("store", "guard_drop"),
		Invalidate: func(ctx context.Context, e cacheops.Event) {
			if e.Err != nil {
				kept(ctx, e)
				return
			}
			invalidate(ctx, e)
		},
		RedisError: record("redis", "error"),
		// A watcher's delivery: from a transaction's commit to its
		// invalidation (the lag). A metric only: the commit happened in
		// another program, so there is no caller's span to place it under.
		Watch: func(ctx context.Context, e cacheops.Event) {
			set := metric.WithAttributes(attribute.String("cacheops.operation", "watch"), attribute.String("cacheops.result", "delivered"))
			ops.Add(ctx, 1, set)
			dur.Record(ctx, e.Duration.Seconds(), set)
		},
	}
}
