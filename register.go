package cacheops

import (
	"database/sql"
	"sync"

	"github.com/jackc/pgx/v5/stdlib"
	"github.com/jmoiron/sqlx"

	cdriver "github.com/cacheops/cacheops/driver"
)

// DriverName is the name cacheops registers with database/sql.
const DriverName = "cacheops-postgres"

var (
	defaultOnce  sync.Once
	defaultCache *Cache
	defaultErr   error
)

// Default returns the Cache behind the registered driver, configured from
// the environment (CACHEOPS_REDIS, CACHEOPS_PREFIX, CACHEOPS_TTL,
// CACHEOPS_TABLES) on first use.
func Default() (*Cache, error) {
	defaultOnce.Do(func() { defaultCache, defaultErr = New(Options{}) })
	return defaultCache, defaultErr
}

func init() {
	sql.Register(DriverName, cdriver.NewDriver(stdlib.GetDefaultDriver(), func() (*cdriver.Config, error) {
		c, err := Default()
		if err != nil {
			return nil, err
		}
		return c.cfg, nil
	}))
	// sqlx picks its bindvar style by driver name.
	sqlx.BindDriver(DriverName, sqlx.DOLLAR)
}
