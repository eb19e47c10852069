package cacheops

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"github.com/redis/go-redis/v9"

	cdriver "github.com/cacheops/cacheops/driver"
)

// Event is one step of the cache, as Hooks see it.
type Event = cdriver.Event

// Hooks are called after each step of the cache (Options.Hooks): for
// tracing and metrics of your own (contrib/otel and contrib/prometheus are
// built on them).
type Hooks = cdriver.Hooks

// Ping checks that the cache's Redis answers (every master of a cluster),
// for health checks: unreachable, refused credentials or a database number
// the server does not have come back as the error. It does not touch the
// circuit breaker's state beyond what any call does.
func (c *Cache) Ping(ctx context.Context) error {
	if c.cfg.Store == nil {
		return cdriver.ErrNoRedis
	}
	return c.cfg.Store.Ping(ctx)
}

// go-redis logs through one logger for the whole process: a Redis that is
// down makes it print a dial error per call. The first New routes those
// lines to its Options.Logger (slog.Default if nil), at most one per 10 s
// (with the number held back). redis.SetLogger afterwards puts back a logger of your own.
var redisLogOnce sync.Once

type redisLog struct {
	logger *slog.Logger
	limit  *cdriver.LimitedLog
}

func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.limit.Log(ctx, l.logger, slog.LevelWarn, "cacheops: go-redis reports", slog.String("detail", fmt.Sprintf(format, v...)))
}

func routeRedisLog(logger *slog.Logger) {
	redisLogOnce.Do(func() { redis.SetLogger(redisLog{logger: logger, limit: &cdriver.LimitedLog{}}) })
}
