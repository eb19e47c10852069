package otel

import (
	"context"
	"slices"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/cacheops/cacheops"
	"github.com/cacheops/cacheops/internal/testenv"
)

func attr(s sdktrace.ReadOnlySpan, key string) attribute.Value {
	for _, a := range s.Attributes() {
		if string(a.Key) == key {
			return a.Value
		}
	}
	return attribute.Value{}
}

// Spans under the caller's span and metrics, read back from the SDK, for
// what the cache really did.
func TestSpansAndMetrics(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	reader := sdkmetric.NewManualReader()
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(reader))
	cache, db := testenv.Cache(t, cacheops.Options{Hooks: Hooks(WithTracerProvider(tp), WithMeterProvider(mp))},
		"CREATE TABLE post (id int PRIMARY KEY, title text); INSERT INTO post VALUES (1, 'one')")
	ctx, parent := tp.Tracer("test").Start(context.Background(), "request")
	const q = "SELECT title FROM post WHERE id = $1"
	for i := 0; i < 2; i++ {
		var title string
		if err := db.QueryRowContext(ctx, q, 1).Scan(&title); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.ExecContext(ctx, "UPDATE post SET title = 'uno' WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	cache.Stats() // the store has landed
	parent.End()

	byResult := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans.Ended() {
		if s.Name() == "request" {
			continue
		}
		if s.Parent().SpanID() != parent.SpanContext().SpanID() {
			t.Errorf("%s is not under the caller's span", s.Name())
		}
		if !s.EndTime().After(s.StartTime()) {
			t.Errorf("%s: not timed (%v → %v)", s.Name(), s.StartTime(), s.EndTime())
		}
		byResult[s.Name()+"/"+attr(s, "cacheops.result").AsString()] = s
	}
	for _, want := range []string{"cacheops.lookup/miss", "cacheops.store/stored", "cacheops.lookup/hit", "cacheops.invalidate/delivered"} {
		if byResult[want] == nil {
			t.Fatalf("no %s span among %v", want, byResult)
		}
	}
	hit := byResult["cacheops.lookup/hit"]
	if attr(hit, "db.query.text").AsString() != q || attr(hit, "cacheops.bytes").AsInt64() == 0 ||
		!slices.ContainsFunc(attr(hit, "cacheops.tables").AsStringSlice(), func(s string) bool { return len(s) > 0 }) {
		t.Errorf("hit span attributes: %v", hit.Attributes())
	}
	if attr(byResult["cacheops.invalidate/delivered"], "cacheops.stamps").AsInt64() == 0 {
		t.Error("the invalidation span does not say how many stamps")
	}

	var rm metricdata.ResourceMetrics
	if err := reader.Collect(context.Background(), &rm); err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	histograms := 0
	for _, sm := range rm.ScopeMetrics {
		for _, m := range sm.Metrics {
			switch d := m.Data.(type) {
			case metricdata.Sum[int64]:
				for _, p := range d.DataPoints {
					op, _ := p.Attributes.Value("cacheops.operation")
					res, _ := p.Attributes.Value("cacheops.result")
					counts[op.AsString()+"/"+res.AsString()] += p.Value
				}
			case metricdata.Histogram[float64]:
				for _, p := range d.DataPoints {
					histograms += int(p.Count)
				}
			}
		}
	}
	for key, want := range map[string]int64{"lookup/miss": 1, "lookup/hit": 1, "store/stored": 1, "invalidate/delivered": 1} {
		if counts[key] != want {
			t.Errorf("cacheops.operations{%s} = %d, want %d (all: %v)", key, counts[key], want, counts)
		}
	}
	if histograms != 4 {
		t.Errorf("cacheops.operation.duration has %d samples, want 4", histograms)
	}
}
