// Package errs holds the sentinel errors every layer speaks, and the
// PublicError wrapper that marks a message as safe to show a caller.
//
// Stores, upstream clients and authenticators wrap these sentinels; the
// gRPC boundary in package broker maps each to one status code and shows
// the caller either a PublicError's text or the sentinel's fixed message,
// never the wrapped detail. Keeping them out of package lease lets the
// authenticators and the CLI share them without depending on the lease
// model.
package errs
