package prometheus

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/cacheops/cacheops"
	"github.com/cacheops/cacheops/internal/testenv"
)

// value finds a metric's value (a histogram's sample count) in a scrape.
func value(t *testing.T, families []*dto.MetricFamily, name string, labels ...string) float64 {
	t.Helper()
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			for i := 0; i+1 < len(labels); i += 2 {
				found := false
				for _, l := range m.GetLabel() {
					found = found || l.GetName() == labels[i] && l.GetValue() == labels[i+1]
				}
				if !found {
					continue metrics
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
	}
	t.Fatalf("no metric %s%v", name, labels)
	return 0
}

func TestCollectorExportsWhatTheCacheDid(t *testing.T) {
	col := NewCollector()
	cache, db := testenv.Cache(t, cacheops.Options{Hooks: col.Hooks()}, "CREATE TABLE post (id int PRIMARY KEY, title text); INSERT INTO post VALUES (1, 'one')")
	col.Attach(cache)
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(col)
	read := func() {
		var title string
		if err := db.QueryRow("SELECT title FROM post WHERE id = $1", 1).Scan(&title); err != nil {
			t.Fatal(err)
		}
	}
	read() // a miss, stored
	read() // a hit
	if _, err := db.Exec("UPDATE post SET title = 'uno' WHERE id = 1"); err != nil {
		t.Fatal(err)
	}
	var title string
	if err := db.QueryRowContext(cacheops.NoCache(context.Background()), "SELECT title FROM post WHERE id = $1", 1).Scan(&title); err != nil {
		t.Fatal(err)
	}
	cache.Stats() // the store has landed
	got, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"cacheops_hits_total", nil, 1},
		{"cacheops_local_hits_total", nil, 0},
		{"cacheops_local_entries", nil, 0},
		{"cacheops_local_bytes", nil, 0},
		{"cacheops_misses_total", nil, 1},
		{"cacheops_stores_total", nil, 1},
		{"cacheops_skipped_total", nil, 1},
		{"cacheops_redis_errors_total", nil, 0},
		{"cacheops_breaker_open", nil, 0},
		{"cacheops_undelivered_stamps", nil, 0},
		{"cacheops_watch_lag_seconds", nil, 0}, // no watcher: the watcher's lag is tested in the root package
		{"cacheops_watch_behind_total", nil, 0},
		{"cacheops_watch_delivery_seconds", nil, 0},
		{"cacheops_lookup_seconds", []string{"result", "hit"}, 1},
		{"cacheops_lookup_seconds", []string{"result", "miss"}, 1},
		{"cacheops_store_seconds", []string{"result", "stored"}, 1},
		{"cacheops_invalidation_seconds", []string{"result", "delivered"}, 1},
	} {
		if v := value(t, got, c.name, c.labels...); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	if v := value(t, got, "cacheops_invalidations_total"); v < 1 {
		t.Errorf("cacheops_invalidations_total = %v", v)
	}
}
