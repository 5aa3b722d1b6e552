package broker

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

// access is what the current policy lets a caller do with one lease.
type access struct {
	// purpose is the lease's purpose, nil when no longer configured.
	purpose *Purpose
	// cap is the longest the caller may keep the lease, counted from its
	// creation: the purpose's max_ttl or the admitting rule's, whichever
	// is lower. Zero for admins, who are not held to an admission.
	cap time.Duration
}

// admittedLease returns a lease the caller owns (any lease, for admins)
// after deciding the caller's admission to its purpose again under the
// current policy: a caller no longer admitted may not read, renew or
// revoke what an earlier policy let it issue. op names the attempt for
// the audit trail.
func (s *Service) admittedLease(ctx context.Context, op, leaseID string) (*auth.Identity, *lease.Lease, access, error) {
	id, err := caller(ctx)
	if err != nil {
		return nil, nil, access{}, err
	}
	if err := validID(leaseID); err != nil {
		return nil, nil, access{}, err
	}
	l, err := s.cfg.Store.GetLease(ctx, store.GetLeaseParams{ID: leaseID, Owner: ownerScope(id)})
	if errors.Is(err, errs.NotFound) {
		return nil, nil, access{}, errs.Public(errs.NotFound, fmt.Sprintf("lease %q not found", leaseID))
	}
	if err != nil {
		return nil, nil, access{}, err
	}
	var acc access
	p, ok := s.cfg.Purposes.Get(l.Purpose)
	if ok {
		acc.purpose = p
	}
	if id.Admin {
		return id, l, acc, nil
	}
	if !ok {
		return nil, nil, access{}, s.deny(ctx, id, l.Purpose, l.ID, op)
	}
	adm := p.Policy.Decide(id)
	if !adm.Allowed {
		return nil, nil, access{}, s.deny(ctx, id, l.Purpose, l.ID, op)
	}
	acc.cap = capFor(p, adm)
	return id, l, acc, nil
}

// deny audits and answers a caller that no rule of purpose admits; op is
// what it tried ("issue", "read", "renew", "revoke").
func (s *Service) deny(ctx context.Context, id *auth.Identity, purpose, leaseID, op string) error {
	s.cfg.Metrics.denied.WithLabelValues(purpose, "policy").Inc()
	s.appendAudit(ctx, s.event(id, ActionDeny, purpose, leaseID, "denied", "no rule admitted the caller to "+op))
	return errs.Public(errs.PermissionDenied,
		fmt.Sprintf("no rule of purpose %q admits caller %q", purpose, id.Principal()))
}
