package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/store"
)

// RevokeLease ends a lease now. The upstream delete happens before the
// call returns; if ZeroTier fails, the lease stays revoking, the worker
// retries, and the caller sees that state.
func (s *Service) RevokeLease(ctx context.Context, req *ztbrokerv1.RevokeLeaseRequest) (*ztbrokerv1.RevokeLeaseResponse, error) {
	resp, err := s.revoke(ctx, req)
	if err != nil {
		return nil, s.toStatus(ctx, "RevokeLease", err)
	}
	return resp, nil
}

func (s *Service) revoke(ctx context.Context, req *ztbrokerv1.RevokeLeaseRequest) (*ztbrokerv1.RevokeLeaseResponse, error) {
	if err := validateReason(req.GetReason()); err != nil {
		return nil, err
	}
	id, _, _, err := s.admittedLease(ctx, "revoke", req.GetId())
	if err != nil {
		return nil, err
	}
	reason := req.GetReason()
	if reason == "" {
		reason = "revoked by " + id.Owner()
	}
	now := s.now().UTC()
	ev := s.event(id, ActionRevoke, "", req.GetId(), "ok", reason)
	l, already, err := s.cfg.Store.BeginRevoke(ctx, store.BeginRevokeParams{
		ID:         req.GetId(),
		Owner:      ownerScope(id),
		Reason:     reason,
		RevokedBy:  id.Owner(),
		Now:        now,
		ClaimUntil: now.Add(s.cfg.ClaimTimeout),
		Audit:      ev,
	})
	switch {
	case errors.Is(err, errs.NotFound):
		// admittedLease found it, and leases are never deleted; kept
		// so that a store surprise still reads as the lease's absence.
		return nil, errs.Public(errs.NotFound, fmt.Sprintf("lease %q not found", req.GetId()))
	case errors.Is(err, errs.FailedPrecondition):
		return nil, errs.Public(errs.FailedPrecondition, fmt.Sprintf("lease %q is still being issued; retry", req.GetId()))
	case err != nil:
		return nil, err
	case already:
		return &ztbrokerv1.RevokeLeaseResponse{Lease: leaseToProto(l), AlreadyRevoked: true}, nil
	}

	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	cur, err := s.cfg.Revoker.RevokeNow(rctx, l)
	if err != nil {
		s.log.WarnContext(ctx, "revocation will be retried", "lease_id", l.ID, "err", err)
	}
	if cur == nil {
		// Someone else ended it, or the store could not be written: read
		// what stands. The revocation is durable either way.
		if cur, err = s.cfg.Store.GetLease(rctx, store.GetLeaseParams{ID: l.ID}); err != nil {
			cur = l
		}
	}
	return &ztbrokerv1.RevokeLeaseResponse{Lease: leaseToProto(cur)}, nil
}
