// Package e2e runs the real broker binary, as an operator would, against
// the emulator command and a PostgreSQL database. It holds tests only.
package e2e
