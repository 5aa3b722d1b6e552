// Package revoker ends leases upstream. It is the one place a token is
// deleted for a lease that ended, whether the lease expired, was revoked by
// its owner, or was revoked in bulk by an operator.
//
// The Worker loop claims due leases from the store in batches (the claim
// hides them from other replicas for ClaimTimeout), deletes each token on
// the issuer that minted it, and marks the lease revoked. Between batches it
// sleeps until the store's next due time, at most MaxIdle, or until Nudge
// names an earlier one.
//
// Failure policy. A failed delete is retried with exponential backoff and
// full jitter (BackoffBase·2^(attempt-1), capped at BackoffMax), stretched
// to the upstream's Retry-After when that is longer. After MaxAttempts the
// lease becomes revoke_failed, which an operator sees, and is still retried
// every RevokeFailedRetry. An error the upstream calls permanent (the
// broker's admin credential refused, a malformed request) gets only
// PermanentMaxAttempts quick tries: a quick retry cannot fix it, but a
// misclassified transient fault deserves more than one. Throttling (429)
// never escalates: the lease is retried once the upstream's reset has
// passed, plus up to BackoffBase of jitter, however many times it is
// refused, because revoke_failed's hourly retry would only keep the token
// alive longer. A lease whose
// issuer is no longer configured goes straight to revoke_failed, because
// only an operator can bring the account back.
//
// Store errors (PostgreSQL down) end the pass; the loop backs off and tries
// again, never exiting, so the worker recovers when the database does. A
// panic in a pass, or in one lease's revocation, fails the pass the same
// way once Deps.Panics has logged and counted it.
package revoker
