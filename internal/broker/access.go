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
	return s.admitLease(ctx, op, leaseID, false)
}

// admittedRecentLease is admittedLease for a revoke: a lease this process
// activated recently is taken from memory instead of read (see
// recentLeases), when the caller may see it.
func (s *Service) admittedRecentLease(ctx context.Context, op, leaseID string) (*auth.Identity, *lease.Lease, access, error) {
	return s.admitLease(ctx, op, leaseID, true)
}

func (s *Service) admitLease(ctx context.Context, op, leaseID string, recent bool) (*auth.Identity, *lease.Lease, access, error) {
	id, err := caller(ctx)
	if err != nil {
		return nil, nil, access{}, err
	}
	if err := validID(leaseID); err != nil {
		return nil, nil, access{}, err
	}
	if err := s.gate(ctx, id); err != nil {
		return nil, nil, access{}, err
	}
	var l *lease.Lease
	if recent {
		l = s.recent.take(leaseID, ownerScope(id))
	}
	if l == nil {
		var err error
		l, err = s.cfg.Store.GetLease(ctx, store.GetLeaseParams{ID: leaseID, Owner: ownerScope(id)})
		if errors.Is(err, errs.NotFound) {
			return nil, nil, access{}, errs.Public(errs.NotFound, fmt.Sprintf("lease %q not found", leaseID))
		}
		if err != nil {
			return nil, nil, access{}, err
		}
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
	s.refused(ctx, id, s.event(id, ActionDeny, purpose, leaseID, "denied", "no rule admitted the caller to "+op))
	return errs.Public(errs.PermissionDenied,
		fmt.Sprintf("no rule of purpose %q admits caller %q", purpose, id.Principal()))
}

// gate turns the caller away, before any policy or database work, when
// its owner or its address has been refused too often lately.
func (s *Service) gate(ctx context.Context, id *auth.Identity) error {
	if s.cfg.Refusals == nil {
		return nil
	}
	wait, ok := s.cfg.Refusals.Admit(id.Owner(), auth.PeerAddr(ctx), func() *store.AuditEvent {
		return s.event(id, "", "", "", "", "")
	})
	if ok {
		return nil
	}
	s.cfg.Metrics.denied.WithLabelValues("", "refused_too_often").Inc()
	return &errs.PublicError{
		Kind:              errs.ResourceExhausted,
		Msg:               "too many refused requests from this caller or address; retry later",
		RetryAfterSeconds: int((wait + time.Second - 1) / time.Second),
	}
}

// refused records a refusal's audit event, unless the caller's owner has
// used up its budget of such events, in which case it is only counted.
func (s *Service) refused(ctx context.Context, id *auth.Identity, ev *store.AuditEvent) {
	if s.cfg.Refusals != nil && !s.cfg.Refusals.Refused(id.Owner(), auth.PeerAddr(ctx), ev) {
		return
	}
	s.appendAudit(ctx, ev)
}
