package broker

import (
	"context"
	"fmt"
	"time"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

// RenewLease extends an active lease, never past its max expire time nor
// the upstream token's own expiry.
func (s *Service) RenewLease(ctx context.Context, req *ztbrokerv1.RenewLeaseRequest) (*ztbrokerv1.RenewLeaseResponse, error) {
	l, err := s.renew(ctx, req)
	if err != nil {
		return nil, s.toStatus(ctx, "RenewLease", err)
	}
	return &ztbrokerv1.RenewLeaseResponse{Lease: leaseToProto(l)}, nil
}

func (s *Service) renew(ctx context.Context, req *ztbrokerv1.RenewLeaseRequest) (*lease.Lease, error) {
	l, err := s.getLease(ctx, req.GetId())
	if err != nil {
		return nil, err
	}
	id, _ := caller(ctx)
	p, havePurpose := s.cfg.Purposes.Get(l.Purpose)
	result := "error"
	defer func() { s.cfg.Metrics.renew.WithLabelValues(l.Purpose, result).Inc() }()

	var ttl time.Duration
	switch d := req.GetTtl(); {
	case d != nil:
		if err := d.CheckValid(); err != nil {
			return nil, invalid("ttl is not a valid duration")
		}
		ttl = d.AsDuration()
		if ttl <= 0 {
			return nil, invalid("ttl must be positive, got %s", ttl)
		}
		if havePurpose && ttl > p.MaxTTL {
			return nil, invalid("ttl %s exceeds the maximum of %s for purpose %q", ttl, p.MaxTTL, p.Name)
		}
	case havePurpose:
		ttl = p.DefaultTTL
	default:
		return nil, invalid("purpose %q is no longer configured; give an explicit ttl", l.Purpose)
	}

	now := s.now().UTC().Truncate(time.Microsecond)
	if l.State != lease.StateActive {
		return nil, errs.Public(errs.FailedPrecondition, fmt.Sprintf("lease %s is %s and cannot be renewed", l.ID, l.State))
	}
	if !l.ExpireTime.After(now) {
		return nil, errs.Public(errs.FailedPrecondition, fmt.Sprintf("lease %s has expired and cannot be renewed", l.ID))
	}
	limit := l.MaxExpireTime
	if !l.UpstreamExpireTime.IsZero() && l.UpstreamExpireTime.Before(limit) {
		limit = l.UpstreamExpireTime
	}
	expire := now.Add(ttl)
	if expire.After(limit) {
		expire = limit
	}
	if !expire.After(l.ExpireTime) {
		// Renewal never shortens a lease; asking for less than what is
		// left is answered with the lease as it stands.
		result = "unchanged"
		return l, nil
	}
	ev := s.event(id, ActionRenew, l.Purpose, l.ID, "ok", "until "+expire.Format(time.RFC3339))
	out, err := s.cfg.Store.RenewLease(ctx, store.RenewLeaseParams{
		ID: l.ID, Owner: ownerScope(id), ExpireTime: expire, Now: now, Audit: ev,
	})
	if err != nil {
		return nil, err
	}
	result = "ok"
	return out, nil
}
