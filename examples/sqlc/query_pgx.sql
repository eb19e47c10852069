-- Queries only sqlc's pgx/v5 output supports.

-- name: CountPosts :one
SELECT count(*) FROM posts;

-- name: AddPosts :copyfrom
INSERT INTO posts (title) VALUES ($1);

-- name: RenamePosts :batchexec
UPDATE posts SET title = $2 WHERE id = $1;
