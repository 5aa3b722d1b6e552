package auditlog

import (
	"context"
	"time"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

// The methods here take no audit event, so they only delegate. Most are
// reads. ClaimDue, ClaimStalePending and RevokeMatching do change leases,
// but their events reach the trail through methods that log: the worker's
// later CompleteRevoke, RecordRevokeFailure or FailPending, or the
// caller's own AppendAudit.

func (s *Store) GetLease(ctx context.Context, p store.GetLeaseParams) (*lease.Lease, error) {
	return s.inner.GetLease(ctx, p)
}

// GetProxyLease is the proxy's per-call lookup; the proxy audits the call
// itself once it knows what the call did.
func (s *Store) GetProxyLease(ctx context.Context, p store.GetProxyLeaseParams) (*store.ProxyLease, error) {
	return s.inner.GetProxyLease(ctx, p)
}

func (s *Store) ListLeases(ctx context.Context, p store.ListLeasesParams) (*store.ListLeasesResult, error) {
	return s.inner.ListLeases(ctx, p)
}

func (s *Store) ClaimDue(ctx context.Context, p store.ClaimDueParams) ([]*lease.Lease, error) {
	return s.inner.ClaimDue(ctx, p)
}

func (s *Store) NextDueTime(ctx context.Context) (time.Time, bool, error) {
	return s.inner.NextDueTime(ctx)
}

func (s *Store) ClaimStalePending(ctx context.Context, p store.ClaimStalePendingParams) ([]*lease.Lease, error) {
	return s.inner.ClaimStalePending(ctx, p)
}

func (s *Store) RevokeMatching(ctx context.Context, p store.RevokeMatchingParams) (*store.RevokeMatchingResult, error) {
	return s.inner.RevokeMatching(ctx, p)
}

func (s *Store) ListUpstreamTokens(ctx context.Context, p store.ListUpstreamTokensParams) ([]*lease.Lease, error) {
	return s.inner.ListUpstreamTokens(ctx, p)
}

func (s *Store) CountActive(ctx context.Context) (map[string]int, error) {
	return s.inner.CountActive(ctx)
}

func (s *Store) SealedSecret(ctx context.Context, p store.SealedSecretParams) ([]byte, error) {
	return s.inner.SealedSecret(ctx, p)
}

func (s *Store) EraseSealedSecrets(ctx context.Context, now time.Time) (int, error) {
	return s.inner.EraseSealedSecrets(ctx, now)
}

func (s *Store) ListAudit(ctx context.Context, p store.ListAuditParams) (*store.ListAuditResult, error) {
	return s.inner.ListAudit(ctx, p)
}

func (s *Store) Ping(ctx context.Context) error {
	return s.inner.Ping(ctx)
}

// DeleteEndedLeases removes rows; the leases' events stay in the trail,
// and nothing new is appended.
func (s *Store) DeleteEndedLeases(ctx context.Context, p store.DeleteEndedLeasesParams) (int, error) {
	return s.inner.DeleteEndedLeases(ctx, p)
}

// MaintainAuditPartitions takes no event: the store itself appends one
// for each partition it drops and reports it, and that event is logged
// here like any other committed one.
func (s *Store) MaintainAuditPartitions(ctx context.Context, p store.MaintainAuditParams) (*store.AuditMaintenance, error) {
	res, err := s.inner.MaintainAuditPartitions(ctx, p)
	if err == nil && res != nil {
		for _, d := range res.Dropped {
			s.emit(ctx, d.Event, nil)
		}
	}
	return res, err
}
