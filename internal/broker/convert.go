package broker

import (
	"time"

	"google.golang.org/protobuf/types/known/durationpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

var stateToProto = map[lease.State]ztbrokerv1.Lease_State{
	lease.StatePending:      ztbrokerv1.Lease_STATE_PENDING,
	lease.StateActive:       ztbrokerv1.Lease_STATE_ACTIVE,
	lease.StateRevoking:     ztbrokerv1.Lease_STATE_REVOKING,
	lease.StateRevoked:      ztbrokerv1.Lease_STATE_REVOKED,
	lease.StateFailed:       ztbrokerv1.Lease_STATE_FAILED,
	lease.StateRevokeFailed: ztbrokerv1.Lease_STATE_REVOKE_FAILED,
}

func stateFromProto(s ztbrokerv1.Lease_State) (lease.State, bool) {
	if s == ztbrokerv1.Lease_STATE_UNSPECIFIED {
		return "", true
	}
	for k, v := range stateToProto {
		if v == s {
			return k, true
		}
	}
	return "", false
}

func ts(t time.Time) *timestamppb.Timestamp {
	if t.IsZero() {
		return nil
	}
	return timestamppb.New(t)
}

func leaseToProto(l *lease.Lease) *ztbrokerv1.Lease {
	return &ztbrokerv1.Lease{
		Id:              l.ID,
		Purpose:         l.Purpose,
		Owner:           l.Owner,
		State:           stateToProto[l.State],
		IssueTime:       ts(l.IssueTime),
		ExpireTime:      ts(l.ExpireTime),
		MaxExpireTime:   ts(l.MaxExpireTime),
		RevokeReason:    l.RevokeReason,
		Labels:          l.Labels,
		RevokeTime:      ts(l.RevokeTime),
		RevokedBy:       l.RevokedBy,
		Upstream:        l.Upstream,
		UpstreamKind:    l.UpstreamKind,
		UpstreamTokenId: l.UpstreamTokenID,
		TokenSha256:     l.TokenSHA256,
		RevokeAttempts:  int32(l.RevokeAttempts),
		LastError:       l.LastError,
		AdmittedBy:      l.AdmittedBy,
		GrantedMaxTtl:   dur(l.GrantedMaxTTL),
		OwnerClaims:     l.OwnerClaims,
		Delivery:        l.Delivery,
	}
}

func dur(d time.Duration) *durationpb.Duration {
	if d == 0 {
		return nil
	}
	return durationpb.New(d)
}

func auditToProto(e *store.AuditEvent) *ztbrokerv1.AuditEvent {
	return &ztbrokerv1.AuditEvent{
		Id:           e.ID,
		Time:         ts(e.Time),
		Action:       e.Action,
		ActorKind:    e.ActorKind,
		ActorSubject: e.ActorSubject,
		ActorClaims:  e.ActorClaims,
		Purpose:      e.Purpose,
		LeaseId:      e.LeaseID,
		Result:       e.Result,
		Reason:       e.Reason,
		TokenSha256:  e.TokenSHA256,
		Upstream:     e.Upstream,
	}
}
