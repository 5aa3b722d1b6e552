// Package config loads the broker's YAML configuration file.
//
// Loading is strict and happens once, before anything starts: unknown
// fields are errors, every value is validated, CEL rules are compiled, and
// every problem is reported at once, each naming the file and the field
// path ("broker.yaml: purposes[1].max_ttl: ..."), so an operator fixes the
// whole file in one pass.
//
// Secrets are never written in the file. Fields ending in _env name an
// environment variable and fields ending in _file name a file; Load reads
// them and keeps the values in Secret, which prints as "[redacted]". The
// whole Config can therefore be logged at start-up (see LogValue).
// Relative _file paths are resolved against the config file's directory.
package config
