package auditlog_test

import (
	"context"
	"sync"
	"time"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

// recorder is a store.Store that remembers which methods were called and
// answers each with err, or with a plain success (a new lease, not a
// replay; a revoke that changed the lease).
type recorder struct {
	err error

	mu    sync.Mutex
	calls []string
}

var _ store.Store = (*recorder)(nil)

func (r *recorder) call(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, name)
	return r.err
}

func (r *recorder) called() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func fakeLease() *lease.Lease { return &lease.Lease{ID: "fake", Purpose: "fake"} }

func (r *recorder) CreatePending(context.Context, store.CreatePendingParams) (*store.CreatePendingResult, error) {
	return &store.CreatePendingResult{Lease: fakeLease()}, r.call("CreatePending")
}

func (r *recorder) Activate(context.Context, store.ActivateParams) (*lease.Lease, error) {
	return fakeLease(), r.call("Activate")
}

func (r *recorder) FailPending(context.Context, store.FailPendingParams) (*lease.Lease, error) {
	return fakeLease(), r.call("FailPending")
}

func (r *recorder) GetLease(context.Context, store.GetLeaseParams) (*lease.Lease, error) {
	return fakeLease(), r.call("GetLease")
}

func (r *recorder) GetProxyLease(context.Context, store.GetProxyLeaseParams) (*store.ProxyLease, error) {
	return &store.ProxyLease{ID: "fake", Purpose: "fake"}, r.call("GetProxyLease")
}

func (r *recorder) ListLeases(context.Context, store.ListLeasesParams) (*store.ListLeasesResult, error) {
	return &store.ListLeasesResult{}, r.call("ListLeases")
}

func (r *recorder) RenewLease(context.Context, store.RenewLeaseParams) (*lease.Lease, error) {
	return fakeLease(), r.call("RenewLease")
}

func (r *recorder) BeginRevoke(context.Context, store.BeginRevokeParams) (*lease.Lease, bool, error) {
	return fakeLease(), false, r.call("BeginRevoke")
}

func (r *recorder) ClaimDue(context.Context, store.ClaimDueParams) ([]*lease.Lease, error) {
	return nil, r.call("ClaimDue")
}

func (r *recorder) CompleteRevoke(context.Context, store.CompleteRevokeParams) (*lease.Lease, error) {
	return fakeLease(), r.call("CompleteRevoke")
}

func (r *recorder) RevokeActive(context.Context, store.RevokeActiveParams) (*lease.Lease, error) {
	return fakeLease(), r.call("RevokeActive")
}

func (r *recorder) RecordRevokeFailure(context.Context, store.RecordRevokeFailureParams) (*lease.Lease, error) {
	return fakeLease(), r.call("RecordRevokeFailure")
}

func (r *recorder) NextDueTime(context.Context) (time.Time, bool, error) {
	return time.Time{}, false, r.call("NextDueTime")
}

func (r *recorder) ClaimStalePending(context.Context, store.ClaimStalePendingParams) ([]*lease.Lease, error) {
	return nil, r.call("ClaimStalePending")
}

func (r *recorder) ForgetLease(context.Context, store.ForgetLeaseParams) (*lease.Lease, error) {
	return fakeLease(), r.call("ForgetLease")
}

func (r *recorder) RevokeMatching(context.Context, store.RevokeMatchingParams) (*store.RevokeMatchingResult, error) {
	return &store.RevokeMatchingResult{}, r.call("RevokeMatching")
}

func (r *recorder) ListUpstreamTokens(context.Context, store.ListUpstreamTokensParams) ([]*lease.Lease, error) {
	return nil, r.call("ListUpstreamTokens")
}

func (r *recorder) CountActive(context.Context) (map[string]int, error) {
	return nil, r.call("CountActive")
}

func (r *recorder) SealedSecret(context.Context, store.SealedSecretParams) ([]byte, error) {
	return nil, r.call("SealedSecret")
}

func (r *recorder) EraseSealedSecrets(context.Context, time.Time) (int, error) {
	return 0, r.call("EraseSealedSecrets")
}

func (r *recorder) AppendAudit(context.Context, *store.AuditEvent) error {
	return r.call("AppendAudit")
}

func (r *recorder) AppendAudits(context.Context, []*store.AuditEvent) error {
	return r.call("AppendAudits")
}

func (r *recorder) ListAudit(context.Context, store.ListAuditParams) (*store.ListAuditResult, error) {
	return &store.ListAuditResult{}, r.call("ListAudit")
}

func (r *recorder) Ping(context.Context) error {
	return r.call("Ping")
}

func (r *recorder) DeleteEndedLeases(context.Context, store.DeleteEndedLeasesParams) (int, error) {
	return 0, r.call("DeleteEndedLeases")
}

func (r *recorder) MaintainAuditPartitions(context.Context, store.MaintainAuditParams) (*store.AuditMaintenance, error) {
	return &store.AuditMaintenance{}, r.call("MaintainAuditPartitions")
}

func (r *recorder) CurrentCredential(context.Context, store.CurrentCredentialParams) (*store.UpstreamCredential, error) {
	return &store.UpstreamCredential{}, r.call("CurrentCredential")
}

func (r *recorder) DropCredential(context.Context, store.DropCredentialParams) error {
	return r.call("DropCredential")
}

func (r *recorder) RotationLock(context.Context, store.RotationLockParams, func(context.Context) error) (bool, error) {
	return true, r.call("RotationLock")
}

func (r *recorder) StartRotation(context.Context, store.StartRotationParams) (*store.Rotation, error) {
	return &store.Rotation{}, r.call("StartRotation")
}

func (r *recorder) RecordRotationKey(context.Context, store.RecordRotationKeyParams) (*store.Rotation, error) {
	return &store.Rotation{}, r.call("RecordRotationKey")
}

func (r *recorder) SwitchRotation(context.Context, store.SwitchRotationParams) (*store.Rotation, error) {
	return &store.Rotation{}, r.call("SwitchRotation")
}

func (r *recorder) FinishRotation(context.Context, store.FinishRotationParams) (*store.Rotation, error) {
	return &store.Rotation{}, r.call("FinishRotation")
}

func (r *recorder) OpenRotation(context.Context, store.OpenRotationParams) (*store.Rotation, error) {
	return &store.Rotation{}, r.call("OpenRotation")
}

func (r *recorder) GetRotation(context.Context, store.GetRotationParams) (*store.Rotation, error) {
	return &store.Rotation{}, r.call("GetRotation")
}

// RecordSighting answers a first sighting, which logs.
func (r *recorder) RecordSighting(context.Context, store.RecordSightingParams) (bool, error) {
	return true, r.call("RecordSighting")
}

func (r *recorder) CountSightings(context.Context, store.CountSightingsParams) (int, error) {
	return 0, r.call("CountSightings")
}

func (r *recorder) LeasesActiveBetween(context.Context, store.LeasesActiveBetweenParams) ([]string, error) {
	return nil, r.call("LeasesActiveBetween")
}
