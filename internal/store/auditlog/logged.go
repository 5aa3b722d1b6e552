package auditlog

import (
	"context"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

// The methods here commit the audit event in their params, so each logs
// it once the inner store reports success.

// CreatePending logs only when it wrote the lease: a replay of an
// idempotency key wrote no event.
func (s *Store) CreatePending(ctx context.Context, p store.CreatePendingParams) (*store.CreatePendingResult, error) {
	res, err := s.inner.CreatePending(ctx, p)
	if err == nil && !res.Existing {
		s.emit(ctx, p.Audit, res.Lease)
	}
	return res, err
}

func (s *Store) Activate(ctx context.Context, p store.ActivateParams) (*lease.Lease, error) {
	l, err := s.inner.Activate(ctx, p)
	if err == nil {
		s.emit(ctx, p.Audit, l)
	}
	return l, err
}

func (s *Store) FailPending(ctx context.Context, p store.FailPendingParams) (*lease.Lease, error) {
	l, err := s.inner.FailPending(ctx, p)
	if err == nil {
		s.emit(ctx, p.Audit, l)
	}
	return l, err
}

func (s *Store) RenewLease(ctx context.Context, p store.RenewLeaseParams) (*lease.Lease, error) {
	l, err := s.inner.RenewLease(ctx, p)
	if err == nil {
		s.emit(ctx, p.Audit, l)
	}
	return l, err
}

// BeginRevoke logs only when it changed the lease: an already-ended lease
// wrote no event.
func (s *Store) BeginRevoke(ctx context.Context, p store.BeginRevokeParams) (*lease.Lease, bool, error) {
	l, already, err := s.inner.BeginRevoke(ctx, p)
	if err == nil && !already {
		s.emit(ctx, p.Audit, l)
	}
	return l, already, err
}

// RevokeActive logs the request's event, then the completion's, as
// BeginRevoke and CompleteRevoke would have.
func (s *Store) RevokeActive(ctx context.Context, p store.RevokeActiveParams) (*lease.Lease, error) {
	l, err := s.inner.RevokeActive(ctx, p)
	if err == nil {
		s.emit(ctx, p.Audit, l)
		s.emit(ctx, p.Completion, l)
	}
	return l, err
}

func (s *Store) CompleteRevoke(ctx context.Context, p store.CompleteRevokeParams) (*lease.Lease, error) {
	l, err := s.inner.CompleteRevoke(ctx, p)
	if err == nil {
		s.emit(ctx, p.Audit, l)
	}
	return l, err
}

func (s *Store) RecordRevokeFailure(ctx context.Context, p store.RecordRevokeFailureParams) (*lease.Lease, error) {
	l, err := s.inner.RecordRevokeFailure(ctx, p)
	if err == nil {
		s.emit(ctx, p.Audit, l)
	}
	return l, err
}

func (s *Store) ForgetLease(ctx context.Context, p store.ForgetLeaseParams) (*lease.Lease, error) {
	l, err := s.inner.ForgetLease(ctx, p)
	if err == nil {
		s.emit(ctx, p.Audit, l)
	}
	return l, err
}

func (s *Store) AppendAudits(ctx context.Context, events []*store.AuditEvent) error {
	err := s.inner.AppendAudits(ctx, events)
	if err == nil {
		for _, e := range events {
			s.emit(ctx, e, nil)
		}
	}
	return err
}

func (s *Store) AppendAudit(ctx context.Context, e *store.AuditEvent) error {
	err := s.inner.AppendAudit(ctx, e)
	if err == nil {
		s.emit(ctx, e, nil)
	}
	return err
}
