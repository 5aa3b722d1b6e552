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
	id, l, acc, err := s.admittedLease(ctx, "renew", req.GetId())
	if err != nil {
		return nil, err
	}
	p := acc.purpose
	result := "error"
	defer func() { s.cfg.Metrics.renew.WithLabelValues(l.Purpose, result).Inc() }()

	// The longest TTL one renewal may ask for: the cap of the rule that
	// admits the caller now, and never more than the lease was granted.
	max := acc.cap
	if max == 0 && p != nil {
		max = p.MaxTTL
	}
	if g := l.GrantedMaxTTL; g > 0 && (max == 0 || g < max) {
		max = g
	}
	var ttl time.Duration
	switch d := req.GetTtl(); {
	case d != nil:
		var min time.Duration
		if p != nil {
			min = p.MinTTL
		}
		if ttl, err = checkTTL(l.Purpose, d, min, max); err != nil {
			return nil, err
		}
	case p != nil:
		ttl = min(p.DefaultTTL, max)
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
	if acc.cap > 0 {
		// A caller now admitted by a rule with a lower cap than the one
		// that issued the lease gets that lower cap.
		limit = earliest(limit, l.CreatedAt.Add(acc.cap))
	}
	if !l.UpstreamExpireTime.IsZero() {
		limit = earliest(limit, l.UpstreamExpireTime)
	}
	expire := earliest(now.Add(ttl), limit)
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

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
