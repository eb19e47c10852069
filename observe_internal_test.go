package cacheops

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	cdriver "github.com/cacheops/cacheops/driver"
)

// go-redis's lines reach the cache's logger, each kind once per 10 s.
func TestRedisLogIsRateLimited(t *testing.T) {
	var buf bytes.Buffer
	l := redisLog{logger: slog.New(slog.NewTextHandler(&buf, nil)), limit: &cdriver.LimitedLog{}}
	for i := 0; i < 100; i++ {
		l.Printf(context.Background(), "redis: connection pool: failed to dial after %d attempts: %v", 5, "connection refused")
	}
	if n := strings.Count(buf.String(), "\n"); n != 1 || !strings.Contains(buf.String(), "failed to dial after 5 attempts") {
		t.Fatalf("%d lines for 100 dial errors:\n%s", n, buf.String())
	}
}
