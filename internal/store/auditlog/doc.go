// Package auditlog writes the one structured log line every audit event
// gets. It wraps the store, so the line is written by whoever records the
// event — the API, the revoker, the sweeper — and only after the event is
// committed: the log never reports what the audit table does not hold.
package auditlog
