// Command cacheops inspects and steers a cacheops cache from the shell, for
// operators and for migration and deploy scripts:
//
//	cacheops explain 'SELECT title FROM post WHERE id = $1' 7
//	cacheops stats
//	cacheops invalidate --table post --table public.comment
//	cacheops invalidate --all
//	cacheops doctor
//	cacheops watch              (until stopped; --uninstall drops its slot)
//
// It reads the environment the registered driver reads (CACHEOPS_REDIS,
// CACHEOPS_PREFIX, CACHEOPS_TTL, CACHEOPS_TABLES) and the database from
// --dsn, else CACHEOPS_DATABASE, else DATABASE_URL.
//
// Install it with go install github.com/cacheops/cacheops/cmd/cacheops@latest.
package main
