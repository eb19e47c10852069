// Package examples holds one runnable, tested example per Go PostgreSQL
// stack using cacheops: database/sql, sqlx, sqlc, GORM, ent and bun. It is
// a module of its own, so that cacheops' users do not inherit these ORMs'
// dependencies. Each example's test proves a hit, an invalidating write,
// and a transaction that invalidates at commit and not at rollback.
package examples
