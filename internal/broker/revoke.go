package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

// RevokeLease ends a lease now. The upstream delete happens before the
// call returns. When it succeeds at once the lease goes from active to
// revoked in one write; if ZeroTier fails, the lease is moved to revoking
// as a durable record, the worker retries, and the caller sees that
// state.
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
	id, l, _, err := s.admittedRecentLease(ctx, "revoke", req.GetId())
	if err != nil {
		return nil, err
	}
	reason := req.GetReason()
	if reason == "" {
		reason = "revoked by " + id.Owner()
	}
	now := s.now().UTC()
	ev := s.event(id, ActionRevoke, "", req.GetId(), "ok", reason)
	switch {
	case l.State == lease.StatePending:
		return nil, stillIssuing(req.GetId())
	case l.State != lease.StateActive:
		return &ztbrokerv1.RevokeLeaseResponse{Lease: leaseToProto(l), AlreadyRevoked: true}, nil
	}

	// From here on the token may be deleted, so the caller hanging up must
	// not stop the sequence halfway.
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	// The fast path: delete upstream, then one write from active to
	// revoked. It writes nothing unless the delete succeeded.
	cur, err := s.cfg.Revoker.RevokeActive(rctx, l, store.RevokeActiveParams{
		Owner: ownerScope(id), Reason: reason, RevokedBy: id.Owner(), Now: now, Audit: ev,
	})
	if err == nil {
		return &ztbrokerv1.RevokeLeaseResponse{Lease: leaseToProto(cur)}, nil
	}
	if !errors.Is(err, errs.Conflict) {
		s.log.WarnContext(ctx, "immediate revocation failed; recording it for the worker", "lease_id", l.ID, "err", err)
	}

	// The durable path: the lease moves to revoking, claimed by this call,
	// before another delete is tried; a failure is recorded and the worker
	// retries.
	l, already, err := s.cfg.Store.BeginRevoke(rctx, store.BeginRevokeParams{
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
		return nil, stillIssuing(req.GetId())
	case err != nil:
		return nil, err
	case already:
		return &ztbrokerv1.RevokeLeaseResponse{Lease: leaseToProto(l), AlreadyRevoked: true}, nil
	}

	cur, err = s.cfg.Revoker.RevokeNow(rctx, l)
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

func stillIssuing(id string) error {
	return errs.Public(errs.FailedPrecondition, fmt.Sprintf("lease %q is still being issued; retry", id))
}
