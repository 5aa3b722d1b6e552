// Package pgstore is the PostgreSQL store.Store, on pgx v5.
//
// Every method is one statement — and so one round trip and one implicit
// transaction — on its success path: state changes, their audit event and
// any sealed secret are written together by data-modifying CTEs. Only
// CreatePending with a quota needs an explicit transaction, holding an
// advisory lock so that the count and the insert are atomic across
// replicas. A second query runs only to explain why an update matched no
// row (not found, or the wrong state).
//
// The lease cycle's three writes (CreatePending without a quota, Activate
// and RevokeActive) are group-committed: calls that arrive while a
// statement of their kind is in flight go out together as the next one,
// a multi-row form of the same statement (group.go, batched.go). A lone
// call still runs the single-row statement at once.
//
// SQL is static text. An optional filter is written as below, so no
// statement is assembled at runtime:
//
//	($1 = '' OR purpose = $1)
//
// Driver errors are translated once, here: no rows becomes
// errs.NotFound, a unique violation errs.AlreadyExists, a failed
// connection or a server shutting down errs.Unavailable.
package pgstore
