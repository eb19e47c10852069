package prometheus

import (
	"context"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/cacheops/cacheops"
)

// Collector is a prometheus.Collector of one or more caches: counters read
// from their Stats at each scrape, latency histograms fed by Hooks.
type Collector struct {
	caches atomic.Pointer[[]*cacheops.Cache]

	hits, misses, stores, guardDrops, invalidations, redisErrors, skipped *prometheus.Desc
	breakerOpen, undelivered, watchLag, watchBehind                       *prometheus.Desc
	localHits, localEntries, localBytes                                   *prometheus.Desc

	lookup, store, invalidation *prometheus.HistogramVec
	watchDelivery               prometheus.Histogram
}

// NewCollector returns a Collector; pass its Hooks to cacheops.Options and
// Attach the cache it builds.
func NewCollector() *Collector {
	desc := func(name, help string) *prometheus.Desc {
		return prometheus.NewDesc("cacheops_"+name, help, nil, nil)
	}
	buckets := []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25}
	c := &Collector{
		hits:          desc("hits_total", "Reads answered from Redis."),
		localHits:     desc("local_hits_total", "Reads answered from process memory (the local layer)."),
		localEntries:  desc("local_entries", "Entries the local layer holds."),
		localBytes:    desc("local_bytes", "Memory the local layer's entries are counted for (bounded by MaxBytes)."),
		misses:        desc("misses_total", "Cacheable reads not answered from Redis."),
		stores:        desc("stores_total", "Results written to Redis."),
		guardDrops:    desc("guard_drops_total", "Results not stored because a write invalidated them while the query ran."),
		invalidations: desc("invalidations_total", "Stamps deleted by writes."),
		redisErrors:   desc("redis_errors_total", "Failed Redis calls (each fell back to PostgreSQL or was kept for later)."),
		skipped:       desc("skipped_total", "Cacheable reads kept from the cache by a control (NoCache, a hint, a table rule)."),
		breakerOpen:   desc("breaker_open", "1 while Redis is failing and calls are not being made."),
		undelivered:   desc("undelivered_stamps", "Invalidations kept until Redis takes them; no hits meanwhile."),
		watchLag:      desc("watch_lag_seconds", "Age of the heartbeat of the most lagging watcher of a database read (0: none watched)."),
		watchBehind:   desc("watch_behind_total", "Reads that took no hit because their database's watcher was behind by more than WatchMaxLag."),
		watchDelivery: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "cacheops_watch_delivery_seconds", Help: "From the commit of a write made outside cacheops to its invalidation, for the transactions this process's watcher decoded.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
		lookup: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cacheops_lookup_seconds", Help: "Time of a read's Redis lookup, by result.", Buckets: buckets,
		}, []string{"result"}),
		store: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cacheops_store_seconds", Help: "Time of a guarded store, by result.", Buckets: buckets,
		}, []string{"result"}),
		invalidation: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "cacheops_invalidation_seconds", Help: "Time to deliver a write's invalidation, by result.", Buckets: buckets,
		}, []string{"result"}),
	}
	c.caches.Store(&[]*cacheops.Cache{})
	return c
}

// Attach adds a cache whose counters the Collector reports (summed over
// every cache attached).
func (c *Collector) Attach(cache *cacheops.Cache) {
	for {
		old := c.caches.Load()
		next := append(append([]*cacheops.Cache(nil), *old...), cache)
		if c.caches.CompareAndSwap(old, &next) {
			return
		}
	}
}

// Hooks feed the latency histograms; give them to cacheops.Options (a
// HooksWith of your own can call them too).
func (c *Collector) Hooks() cacheops.Hooks {
	observe := func(h *prometheus.HistogramVec, result string) func(context.Context, cacheops.Event) {
		return func(_ context.Context, e cacheops.Event) { h.WithLabelValues(result).Observe(e.Duration.Seconds()) }
	}
	return cacheops.Hooks{
		Hit: func(ctx context.Context, e cacheops.Event) {
			if e.Local {
				c.lookup.WithLabelValues("local_hit").Observe(e.Duration.Seconds())
				return
			}
			c.lookup.WithLabelValues("hit").Observe(e.Duration.Seconds())
		},
		Miss:      observe(c.lookup, "miss"),
		Store:     observe(c.store, "stored"),
		GuardDrop: observe(c.store, "guard_drop"),
		Invalidate: func(_ context.Context, e cacheops.Event) {
			result := "delivered"
			if e.Err != nil {
				result = "kept"
			}
			c.invalidation.WithLabelValues(result).Observe(e.Duration.Seconds())
		},
		Watch: func(_ context.Context, e cacheops.Event) { c.watchDelivery.Observe(e.Duration.Seconds()) },
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.hits, c.misses, c.stores, c.guardDrops, c.invalidations, c.redisErrors, c.skipped, c.breakerOpen, c.undelivered, c.watchLag, c.watchBehind, c.localHits, c.localEntries, c.localBytes} {
		ch <- d
	}
	c.lookup.Describe(ch)
	c.store.Describe(ch)
	c.invalidation.Describe(ch)
	c.watchDelivery.Describe(ch)
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	var sum cacheops.Stats
	open := 0.0
	for _, cache := range *c.caches.Load() {
		s := cache.Stats()
		sum.Hits += s.Hits
		sum.LocalHits += s.LocalHits
		sum.LocalEntries += s.LocalEntries
		sum.LocalBytes += s.LocalBytes
		sum.Misses += s.Misses
		sum.Stores += s.Stores
		sum.GuardDrops += s.GuardDrops
		sum.Invalidations += s.Invalidations
		sum.RedisErrors += s.RedisErrors
		sum.Skipped += s.Skipped
		sum.UndeliveredStamps += s.UndeliveredStamps
		sum.WatchBehind += s.WatchBehind
		sum.WatchLag = max(sum.WatchLag, s.WatchLag)
		if s.BreakerOpen {
			open = 1
		}
	}
	counter := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(c.hits, sum.Hits)
	counter(c.localHits, sum.LocalHits)
	ch <- prometheus.MustNewConstMetric(c.localEntries, prometheus.GaugeValue, float64(sum.LocalEntries))
	ch <- prometheus.MustNewConstMetric(c.localBytes, prometheus.GaugeValue, float64(sum.LocalBytes))
	counter(c.misses, sum.Misses)
	counter(c.stores, sum.Stores)
	counter(c.guardDrops, sum.GuardDrops)
	counter(c.invalidations, sum.Invalidations)
	counter(c.redisErrors, sum.RedisErrors)
	counter(c.skipped, sum.Skipped)
	ch <- prometheus.MustNewConstMetric(c.breakerOpen, prometheus.GaugeValue, open)
	ch <- prometheus.MustNewConstMetric(c.undelivered, prometheus.GaugeValue, float64(sum.UndeliveredStamps))
	counter(c.watchBehind, sum.WatchBehind)
	ch <- prometheus.MustNewConstMetric(c.watchLag, prometheus.GaugeValue, sum.WatchLag.Seconds())
	c.lookup.Collect(ch)
	c.store.Collect(ch)
	c.invalidation.Collect(ch)
	c.watchDelivery.Collect(ch)
}
