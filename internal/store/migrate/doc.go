// Package migrate applies the embedded schema migrations in order, each in
// its own transaction, under a session-level advisory lock so that several
// replicas starting at once apply every migration exactly once. Applied
// versions are recorded in schema_migrations.
package migrate
