// Package store is the seam between the broker and its database. The
// interface speaks domain types only; implementations translate their
// driver's errors into errs sentinels, so nothing above this package
// imports pgx.
//
// Implementations live in subpackages: pgstore (PostgreSQL, for serve) and
// memstore (in memory, for broker dev only). storetest holds the
// conformance suite both must pass.
//
// Every method takes the current time in its params instead of reading a
// clock, so callers and tests decide what "now" is.
package store
