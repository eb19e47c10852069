-- name: GetPost :one
SELECT id, title FROM posts WHERE id = $1;

-- name: RenamePost :exec
UPDATE posts SET title = $2 WHERE id = $1;
