// Package storetest is the conformance suite every store.Store must pass.
// It pins down, beyond the interface's doc comments, the details both
// implementations share so that `broker dev` on memstore behaves like
// `broker serve` on PostgreSQL:
//
//   - Times come back in UTC at microsecond precision; Labels and
//     ActorClaims are nil when empty.
//   - IssueTime is the activation time (the creation time until then).
//   - RevokeTime is when revocation began (BeginRevoke, ClaimDue of an
//     expired lease, RevokeMatching) or when a pending lease failed.
//   - ListLeases and ListAudit page newest first; lease ids are UUIDv7, so
//     id order is creation order. Results of ClaimDue, ClaimStalePending
//     and ListUpstreamTokens are sorted by id.
//   - A Limit or PageSize below 1, an unreadable page cursor, an audit
//     actor filter without a colon, or an expire time past the max expire
//     time is errs.InvalidArgument.
//   - An audit event in a method's params is written only when that
//     method's state change happens, with the method's Now when its Time
//     is zero.
//   - A sealed secret can be read only while its lease is active, and
//     EraseSealedSecrets also erases those of leases no longer active.
//   - ForgetLease on a lease that is not revoking or revoke_failed is
//     errs.FailedPrecondition.
package storetest
