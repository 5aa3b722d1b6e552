// Package retention deletes what the broker no longer needs to keep.
//
// Leases: a lease that reached a final state (revoked, or failed) is
// deleted LeaseRetention after it got there, in batches of BatchSize
// claimed with FOR UPDATE SKIP LOCKED, so any number of replicas share
// the work and each row is deleted once. A live lease is never deleted,
// nor is a token lease an operator forgot: forgetting records that the
// broker gave up without seeing its token gone, and that row is the only
// trace of a token that may still exist. A lease's audit events outlive
// it.
//
// Audit: the trail is partitioned by month. Every AuditInterval the
// worker makes the partitions of the next AuditMonthsAhead months, moves
// any event that landed in the catch-all partition into its month, and
// drops each month that ended more than AuditRetention ago, whole. The
// store appends an audit event for each month dropped, naming it, its
// range and its row count, in the same transaction; that is the only way
// audit events leave. Replicas do not race: the store lets one of them
// do it at a time (an advisory lock) and tells the others it was busy.
package retention
