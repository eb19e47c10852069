// Package schema is the ent schema of the example: one posts table.
package schema

import (
	"entgo.io/ent"
	"entgo.io/ent/dialect/entsql"
	"entgo.io/ent/schema"
	"entgo.io/ent/schema/field"
)

// Post holds the schema definition for the Post entity.
type Post struct {
	ent.Schema
}

// Annotations names the table as the other examples do.
func (Post) Annotations() []schema.Annotation {
	return []schema.Annotation{entsql.Annotation{Table: "posts"}}
}

// Fields of the Post.
func (Post) Fields() []ent.Field {
	return []ent.Field{
		field.Int64("id"),
		field.String("title"),
	}
}
