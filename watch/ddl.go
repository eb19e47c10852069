package watch

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
)

// ddlPrefix names the logical messages the DDL event trigger emits.
const ddlPrefix = "cacheops.ddl"

// ddlTrigger makes every DDL statement emit a transactional logical
// message, so a schema change made outside cacheops reaches the watcher in
// its transaction's stream (logical decoding does not decode DDL itself).
const ddlTrigger = `CREATE OR REPLACE FUNCTION cacheops_ddl_notice() RETURNS event_trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_logical_emit_message(true, '` + ddlPrefix + `', tg_tag);
END $$;
DO $$BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_event_trigger WHERE evtname = 'cacheops_ddl') THEN
    CREATE EVENT TRIGGER cacheops_ddl ON ddl_command_end EXECUTE FUNCTION cacheops_ddl_notice();
  END IF;
END $$`

// installDDLTrigger installs the trigger; it needs a superuser. Without it
// the watcher still follows rows, and DDL made outside needs
// InvalidateAll.
func installDDLTrigger(ctx context.Context, conn *pgconn.PgConn) error {
	if _, err := conn.Exec(ctx, ddlTrigger).ReadAll(); err != nil {
		return fmt.Errorf("cacheops: install the DDL event trigger (needs a superuser; or set WatchOptions.NoDDLTrigger, and DDL made outside cacheops then needs InvalidateAll): %w", err)
	}
	return nil
}

const dropDDLTrigger = `DROP EVENT TRIGGER IF EXISTS cacheops_ddl; DROP FUNCTION IF EXISTS cacheops_ddl_notice()`
