// Package examples holds one runnable, tested example per Go PostgreSQL
// stack using cacheops: database/sql, sqlx, sqlc (database/sql and pgx/v5
// outputs), GORM, ent, bun and a pgxpool service. It is a module of its own,
// so that cacheops' users do not inherit these ORMs' dependencies. Each
// example's test proves a hit, an invalidating write, and a transaction
// that invalidates at commit and not at rollback.
package examples
