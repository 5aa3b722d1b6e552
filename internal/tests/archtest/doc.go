// Package archtest enforces the import rules that ARCHITECTURE.md writes
// down, so the rooms of internal/ keep holding what their names say. It
// has tests only.
package archtest
