package store

import (
	"context"
	"time"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
)

// Store persists leases and the audit trail.
type Store interface {
	// CreatePending writes a new lease in state pending, before anything is
	// minted upstream. When IdempotencyKey is set and a lease of the same
	// owner holds that key, whatever its purpose, it writes nothing and
	// returns that lease with Existing set; that is a replay, not an error,
	// and the caller compares the request with the lease. A lease with the
	// same ID is errs.AlreadyExists. When a quota in the params would be
	// exceeded it returns a *QuotaError and writes nothing. The quota check
	// and the insert are atomic across replicas.
	CreatePending(ctx context.Context, p CreatePendingParams) (*CreatePendingResult, error)
	// Activate moves a pending lease to active and records the upstream
	// token's id and hash. errs.Conflict if the lease is no longer
	// pending (for example the stale-pending sweeper got it first).
	Activate(ctx context.Context, p ActivateParams) (*lease.Lease, error)
	// FailPending moves a pending lease to failed. errs.Conflict if it
	// is not pending.
	FailPending(ctx context.Context, p FailPendingParams) (*lease.Lease, error)

	// GetLease returns a lease by id. When Owner is set, another owner's
	// lease is reported as errs.NotFound.
	GetLease(ctx context.Context, p GetLeaseParams) (*lease.Lease, error)
	// GetProxyLease returns the proxy lease whose broker credential hashes
	// to CredentialSHA256, in whatever state it is, or errs.NotFound. The
	// proxy calls it on every request, so it is one indexed read of only
	// the columns the proxy uses.
	GetProxyLease(ctx context.Context, p GetProxyLeaseParams) (*ProxyLease, error)
	// ListLeases pages through leases, newest first.
	ListLeases(ctx context.Context, p ListLeasesParams) (*ListLeasesResult, error)

	// RenewLease sets a new expire time on an active lease. The caller has
	// already capped it; the store refuses (errs.InvalidArgument) to go
	// past max_expire_time and returns errs.FailedPrecondition when the
	// lease is not active or its expire time is not after Now (an expired
	// lease belongs to the revoker even before it is claimed).
	RenewLease(ctx context.Context, p RenewLeaseParams) (*lease.Lease, error)

	// BeginRevoke moves an active lease to revoking and claims it for the
	// caller until ClaimUntil, so no worker races the caller's own upstream
	// delete. A lease that has already ended is returned unchanged with
	// already=true. A pending lease is errs.FailedPrecondition.
	BeginRevoke(ctx context.Context, p BeginRevokeParams) (l *lease.Lease, already bool, err error)
	// RevokeActive moves an active lease straight to revoked, for an
	// explicit revoke whose upstream delete has already succeeded: one
	// write instead of BeginRevoke and CompleteRevoke, carrying both their
	// audit events (Audit, then Completion). errs.Conflict if the lease is
	// no longer active (ended, or claimed by a worker or another revoke
	// meanwhile); errs.NotFound if it does not exist or, when Owner is
	// set, belongs to another owner.
	RevokeActive(ctx context.Context, p RevokeActiveParams) (*lease.Lease, error)
	// ClaimDue claims up to Limit leases whose revocation is due: active
	// leases past their expire time (moved to revoking with reason
	// "expired"), and revoking or revoke_failed leases whose next attempt
	// is due. Claimed leases get NextAttemptAt = ClaimUntil, so another
	// replica does not pick them up while this one works. Safe to call
	// from many replicas at once (FOR UPDATE SKIP LOCKED).
	ClaimDue(ctx context.Context, p ClaimDueParams) ([]*lease.Lease, error)
	// CompleteRevoke moves a revoking or revoke_failed lease to revoked.
	// errs.Conflict if it is in any other state.
	CompleteRevoke(ctx context.Context, p CompleteRevokeParams) (*lease.Lease, error)
	// RecordRevokeFailure counts a failed attempt and schedules the next at
	// NextAttemptAt; with MarkFailed the lease becomes revoke_failed.
	RecordRevokeFailure(ctx context.Context, p RecordRevokeFailureParams) (*lease.Lease, error)
	// NextDueTime returns the earliest time at which ClaimDue would find
	// work, or ok=false when nothing is scheduled.
	NextDueTime(ctx context.Context) (t time.Time, ok bool, err error)

	// ClaimStalePending claims up to Limit pending leases created before
	// CreatedBefore, pushing their NextAttemptAt to ClaimUntil.
	ClaimStalePending(ctx context.Context, p ClaimStalePendingParams) ([]*lease.Lease, error)

	// ForgetLease moves a revoke_failed (or revoking) lease to revoked
	// without an upstream delete, recording who and why.
	ForgetLease(ctx context.Context, p ForgetLeaseParams) (*lease.Lease, error)
	// RevokeMatching moves up to Limit active leases matching the filter to
	// revoking with NextAttemptAt = Now, for the revocation worker to
	// finish. With DryRun it changes nothing and reports what it would do.
	RevokeMatching(ctx context.Context, p RevokeMatchingParams) (*RevokeMatchingResult, error)

	// ListUpstreamTokens returns every lease that has, or may have, a token
	// on the given upstream account, for reconciliation. Proxy leases never
	// have one and are left out.
	ListUpstreamTokens(ctx context.Context, p ListUpstreamTokensParams) ([]*lease.Lease, error)
	// CountActive returns the number of active leases per purpose.
	CountActive(ctx context.Context) (map[string]int, error)

	// SealedSecret returns the encrypted secret kept for idempotent replay,
	// or errs.NotFound when there is none or it has expired.
	SealedSecret(ctx context.Context, p SealedSecretParams) ([]byte, error)
	// EraseSealedSecrets deletes sealed secrets whose replay window ended
	// before Now and returns how many it erased.
	EraseSealedSecrets(ctx context.Context, now time.Time) (int, error)

	// AppendAudit adds one event to the append-only audit trail.
	AppendAudit(ctx context.Context, e *AuditEvent) error
	// AppendAudits adds events in one statement, in order, and sets their
	// ids. All are written or none. It is for writers that queue events
	// (the proxy's) and would otherwise pay a commit for each.
	AppendAudits(ctx context.Context, events []*AuditEvent) error
	// ListAudit pages through audit events, newest first.
	ListAudit(ctx context.Context, p ListAuditParams) (*ListAuditResult, error)

	// DeleteEndedLeases deletes up to Limit leases that reached a final
	// state (revoked or failed) before EndedBefore and whose upstream token
	// is known to be gone, and returns how many it deleted. A lease an
	// operator forgot (revoked with reason lease.ReasonForgotten) may
	// still have a token upstream and is never deleted, unless it is a
	// proxy lease, which never has one. Safe to call from many replicas at
	// once: each row is deleted by exactly one of them (FOR UPDATE SKIP
	// LOCKED). Nothing is audited: the leases' own events stay in the
	// audit trail.
	DeleteEndedLeases(ctx context.Context, p DeleteEndedLeasesParams) (int, error)

	// MaintainAuditPartitions keeps the audit trail's monthly partitions:
	// it makes those of the months from Now's through Ahead months later,
	// moves events that landed outside any month's partition into their
	// own, and drops every partition whose month ended at or before
	// KeepSince, appending for each an audit event that names it, its
	// range and its row count. Dropping a month is the only way audit
	// events ever leave. KeepSince later than 31 days before the store's
	// own clock is refused (errs.InvalidArgument). When another replica is
	// doing the same at that moment it returns Busy and changes nothing.
	MaintainAuditPartitions(ctx context.Context, p MaintainAuditParams) (*AuditMaintenance, error)

	// Ping reports whether the store is reachable.
	Ping(ctx context.Context) error

	UpstreamState
}

type DeleteEndedLeasesParams struct {
	// EndedBefore: leases whose last change (the one that ended them) is
	// older are deleted.
	EndedBefore time.Time
	// Limit bounds one call, at least 1.
	Limit int
}

// MinAuditRetention is the shortest audit retention the stores accept: a
// month and a day, so that the current and the last month always stay.
const MinAuditRetention = 31 * 24 * time.Hour

type MaintainAuditParams struct {
	// Now places the months to make ahead and stamps the drop events.
	Now time.Time
	// Ahead is how many months after Now's to make, 1 to 24.
	Ahead int
	// KeepSince: months that ended at or before it are dropped. Zero drops
	// nothing.
	KeepSince time.Time
}

// AuditMaintenance is what MaintainAuditPartitions did.
type AuditMaintenance struct {
	// Busy reports that another caller held the partition lock; nothing
	// was done.
	Busy bool
	// Created lists the months' partitions made.
	Created []AuditPartition
	// Dropped lists the partitions dropped, with the events they held.
	Dropped []AuditPartition
	// Moved counts events moved out of the catch-all partition into their
	// months.
	Moved int64
}

// AuditPartition is one month of the audit trail: [From, To).
type AuditPartition struct {
	Name     string
	From, To time.Time
	Rows     int64
	// Event is the audit event appended for a dropped partition.
	Event *AuditEvent
}

// Audit vocabulary of audit retention.
const (
	ActionAuditPartitionDrop = "audit_partition_drop"
	RetentionActorKind       = "system"
	RetentionActorSubject    = "retention"
)

// CreatePendingParams describe a lease about to be minted.
type CreatePendingParams struct {
	ID      string
	Purpose string
	Owner   string
	Labels  map[string]string
	// Delivery is lease.DeliveryToken (the default when empty) or
	// lease.DeliveryProxy.
	Delivery string
	// Upstream is the upstream's configured name, UpstreamKind its API.
	Upstream        string
	UpstreamKind    string
	UpstreamAccount string
	UpstreamName    string
	Now             time.Time
	ExpireTime      time.Time
	MaxExpireTime   time.Time
	IdempotencyKey  string
	// AdmittedBy, GrantedMaxTTL, RequestedTTL and OwnerClaims are recorded
	// as given; see lease.Lease.
	AdmittedBy    string
	GrantedMaxTTL time.Duration
	RequestedTTL  time.Duration
	OwnerClaims   map[string]string
	// Quota, when non-nil, is checked atomically with the insert.
	Quota *Quota
	// Audit, when non-nil, is appended in the same transaction.
	Audit *AuditEvent
}

// CreatePendingResult says what CreatePending did. A replayed request is
// an outcome the caller handles, not a failure, so it is reported here
// rather than as an error that comes with a lease.
type CreatePendingResult struct {
	// Lease is the lease just written or, when Existing, the one already
	// holding the idempotency key.
	Lease *lease.Lease
	// Existing reports that the idempotency key was taken: nothing was
	// written, not even the params' audit event.
	Existing bool
}

// Quota bounds leases per purpose and per owner. Zero fields are unlimited.
type Quota struct {
	// MaxActivePerPurpose counts pending and active leases of the purpose.
	MaxActivePerPurpose int
	// MaxActivePerOwner counts pending and active leases of the owner for
	// this purpose.
	MaxActivePerOwner int
	// MaxIssuesPerWindow counts leases the owner created for this purpose
	// within Window before Now.
	MaxIssuesPerWindow int
	Window             time.Duration
}

// QuotaError reports which quota a CreatePending would exceed. It wraps
// errs.ResourceExhausted.
type QuotaError struct {
	Limit string // "active_per_purpose", "active_per_owner" or "issue_rate"
	Max   int
	// RetryAfter is how long until a slot frees: for issue_rate, until
	// the oldest issue leaves the window; for the active-lease limits,
	// until the earliest counted lease expires (at least a second).
	RetryAfter time.Duration
}

func (e *QuotaError) Error() string { return "quota exceeded: " + e.Limit }
func (e *QuotaError) Unwrap() error { return errs.ResourceExhausted }

type ActivateParams struct {
	ID                 string
	UpstreamTokenID    string
	TokenSHA256        string
	UpstreamExpireTime time.Time
	Now                time.Time
	// SealedSecret, when set, is kept until SealedUntil for idempotent
	// replay. It is ciphertext; the store never sees a plaintext secret.
	SealedSecret []byte
	SealedUntil  time.Time
	Audit        *AuditEvent
}

type FailPendingParams struct {
	ID     string
	Reason string
	Now    time.Time
	Audit  *AuditEvent
}

type GetLeaseParams struct {
	ID    string
	Owner string // empty: any owner (admins, workers)
}

type GetProxyLeaseParams struct {
	// CredentialSHA256 is the lowercase hex SHA-256 of a broker credential.
	CredentialSHA256 string
}

// ProxyLease is what the proxy reads of a lease on every call: enough to
// decide whether the call may go ahead and to attribute it. It is its own
// type, not a *lease.Lease with fields left empty, so that nothing
// mistakes the one for the other.
type ProxyLease struct {
	ID          string
	Purpose     string
	Owner       string
	State       lease.State
	ExpireTime  time.Time
	Labels      map[string]string
	TokenSHA256 string
}

type ListLeasesParams struct {
	Owner    string // empty: every owner
	Purpose  string
	State    lease.State // empty: any
	LabelKey string
	LabelVal string
	// PageSize is at least 1; the caller caps it.
	PageSize int
	// After is the opaque cursor from the previous page, or empty.
	After string
}

type ListLeasesResult struct {
	Leases []*lease.Lease
	// Next is the cursor for the next page, empty on the last.
	Next string
}

type RenewLeaseParams struct {
	ID         string
	Owner      string
	ExpireTime time.Time
	Now        time.Time
	Audit      *AuditEvent
}

type BeginRevokeParams struct {
	ID         string
	Owner      string // empty: any owner
	Reason     string
	RevokedBy  string
	Now        time.Time
	ClaimUntil time.Time
	Audit      *AuditEvent
}

type RevokeActiveParams struct {
	ID        string
	Owner     string // empty: any owner
	Reason    string
	RevokedBy string
	// Now is when the revoke was requested (the lease's revoke time);
	// DoneAt is when the upstream delete was confirmed.
	Now    time.Time
	DoneAt time.Time
	// Audit is the request's event, Completion the revocation's.
	Audit      *AuditEvent
	Completion *AuditEvent
}

type ClaimDueParams struct {
	Now        time.Time
	ClaimUntil time.Time
	Limit      int
}

type CompleteRevokeParams struct {
	ID    string
	Now   time.Time
	Audit *AuditEvent
}

type RecordRevokeFailureParams struct {
	ID            string
	Err           string // client-safe text
	NextAttemptAt time.Time
	MarkFailed    bool
	Now           time.Time
	Audit         *AuditEvent
}

type ClaimStalePendingParams struct {
	CreatedBefore time.Time
	Now           time.Time
	ClaimUntil    time.Time
	Limit         int
}

type ForgetLeaseParams struct {
	ID        string
	Reason    string
	RevokedBy string
	Now       time.Time
	Audit     *AuditEvent
}

// LeaseFilter selects leases for bulk revocation. Empty fields match
// anything; All must be set for an empty filter to match every lease.
type LeaseFilter struct {
	Purpose  string
	Owner    string
	LabelKey string
	LabelVal string
	All      bool
}

type RevokeMatchingParams struct {
	Filter    LeaseFilter
	Reason    string
	RevokedBy string
	Now       time.Time
	Limit     int
	DryRun    bool
}

type RevokeMatchingResult struct {
	// Done is how many leases moved to revoking (or would, on a dry run).
	Done int
	// Remaining is how many active leases still match afterwards.
	Remaining int
	// IDs lists up to 100 affected leases.
	IDs []string
}

type ListUpstreamTokensParams struct {
	// Upstream is the upstream's name.
	Upstream        string
	UpstreamAccount string
}

type SealedSecretParams struct {
	ID  string
	Now time.Time
}

// AuditEvent is one append-only audit record. It never holds a secret.
type AuditEvent struct {
	ID           int64
	Time         time.Time
	Action       string
	ActorKind    string
	ActorSubject string
	ActorClaims  map[string]string
	Purpose      string
	LeaseID      string
	Result       string
	Reason       string
	TokenSHA256  string
	// Upstream names the upstream the event concerns: a lease's (filled
	// in from the lease when left empty), or the one a rotation or guard
	// event is about. Empty for events of no one upstream.
	Upstream string
}

type ListAuditParams struct {
	Purpose  string
	LeaseID  string
	Actor    string // "<kind>:<subject>"
	Action   string
	Upstream string
	Since    time.Time
	PageSize int
	After    string
}

type ListAuditResult struct {
	Events []*AuditEvent
	Next   string
}
