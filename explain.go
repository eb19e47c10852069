package cacheops

import (
	"context"
	"database/sql"
	"database/sql/driver"

	cdriver "github.com/cacheops/cacheops/driver"
)

// Explanation is what the cache does with a statement: whether a read is
// cached (or why not), the tables, rows and Redis keys it depends on, and
// what a write invalidates.
type Explanation = cdriver.Explanation

// Explain tells what the cache would do with sql and args on one of db's
// connections, without running it (`cacheops explain` prints it). Arguments
// are keyed as database/sql would pass them: the same Go types as the call
// you are explaining give the same entry key.
func Explain(ctx context.Context, db *sql.DB, query string, args ...any) (Explanation, error) {
	named := make([]driver.NamedValue, len(args))
	for i, a := range args {
		v, err := driver.DefaultParameterConverter.ConvertValue(a)
		if err != nil {
			v = a // pgx takes more types than database/sql's defaults
		}
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	var ex Explanation
	err := withConn(ctx, db, func(c *cdriver.Conn) error {
		var err error
		ex, err = c.Explain(ctx, query, named)
		return err
	})
	return ex, err
}
