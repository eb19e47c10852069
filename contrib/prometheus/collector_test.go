package prometheus

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/redis/go-redis/v9"

	"github.com/cacheops/cacheops"
)

// A cache on the real servers, in a schema and under a prefix of its own,
// both removed afterwards.
func realCache(t *testing.T, opts cacheops.Options) (*cacheops.Cache, *sql.DB) {
	t.Helper()
	dsn := os.Getenv("CACHEOPS_TEST_DATABASE")
	if dsn == "" {
		dsn = "postgres://root@127.0.0.1:5432/test?sslmode=disable"
	}
	redisURL := os.Getenv("CACHEOPS_TEST_REDIS")
	if redisURL == "" {
		redisURL = "redis://127.0.0.1:6379/9"
	}
	schema := fmt.Sprintf("prom_%d", time.Now().UnixNano())
	opts.RedisURL, opts.Prefix = redisURL, "test:"+schema+":"
	cache, err := cacheops.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	admin, err := cache.OpenDB(dsn)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(fmt.Sprintf("CREATE SCHEMA %[1]s; CREATE TABLE %[1]s.post (id int PRIMARY KEY, title text); INSERT INTO %[1]s.post VALUES (1, 'one')", schema)); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(dsn)
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	db, err := cache.OpenDB(u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		db.Close()
		admin.Exec("DROP SCHEMA " + schema + " CASCADE")
		admin.Close()
		cache.Close()
		ropts, _ := redis.ParseURL(redisURL)
		rdb := redis.NewClient(ropts)
		if keys, _ := rdb.Keys(context.Background(), "test:"+schema+":*").Result(); len(keys) > 0 {
			rdb.Del(context.Background(), keys...)
		}
		rdb.Close()
	})
	return cache, db
}

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
	cache, db := realCache(t, cacheops.Options{Hooks: col.Hooks()})
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
	before, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	delivered := value(t, before, "cacheops_invalidation_seconds", "result", "delivered") // the set-up's DDL and INSERT
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
		{"cacheops_misses_total", nil, 1},
		{"cacheops_stores_total", nil, 1},
		{"cacheops_skipped_total", nil, 1},
		{"cacheops_redis_errors_total", nil, 0},
		{"cacheops_breaker_open", nil, 0},
		{"cacheops_undelivered_stamps", nil, 0},
		{"cacheops_lookup_seconds", []string{"result", "hit"}, 1},
		{"cacheops_lookup_seconds", []string{"result", "miss"}, 1},
		{"cacheops_store_seconds", []string{"result", "stored"}, 1},
		{"cacheops_invalidation_seconds", []string{"result", "delivered"}, delivered + 1},
	} {
		if v := value(t, got, c.name, c.labels...); v != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, v, c.want)
		}
	}
	if v := value(t, got, "cacheops_invalidations_total"); v < 1 {
		t.Errorf("cacheops_invalidations_total = %v", v)
	}
}
