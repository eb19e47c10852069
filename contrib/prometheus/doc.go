// Package prometheus exports a cacheops cache's counters and latencies as
// Prometheus metrics:
//
//	col := cacheopsprom.NewCollector()
//	cache, _ := cacheops.New(cacheops.Options{Hooks: col.Hooks()})
//	col.Attach(cache)
//	prometheus.MustRegister(col)
//
// It is a module of its own, so that cacheops itself does not depend on the
// Prometheus client.
package prometheus
