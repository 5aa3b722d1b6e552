// Package auditlog writes the one structured log line every audit event
// gets. It wraps the store, so the line is written by whoever records the
// event — the API, the revoker, the sweeper — and only after the event is
// committed: the log never reports what the audit table does not hold.
//
// Each store method is wrapped by hand, either logging (logged.go) or
// passing through (passthrough.go). There is no embedding to fall back
// on, so a method added to store.Store must be given one or the other
// here, and the package's tests keep a table of that decision that fails
// until the new method is in it.
package auditlog
