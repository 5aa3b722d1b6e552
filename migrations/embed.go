// Package migrations holds the broker's PostgreSQL schema as numbered
// NNNN_name.up.sql / NNNN_name.down.sql pairs, embedded so the binary can
// migrate its own database. internal/migrate applies them.
package migrations

import "embed"

// FS holds every migration file at its root.
//
//go:embed *.sql
var FS embed.FS
