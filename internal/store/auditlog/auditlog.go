package auditlog

import (
	"context"
	"log/slog"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

// Store logs each audit event its inner store commits.
type Store struct {
	store.Store
	log *slog.Logger
}

var _ store.Store = (*Store)(nil)

// Wrap returns st logging audit events to log.
func Wrap(st store.Store, log *slog.Logger) *Store {
	return &Store{Store: st, log: log}
}

func (s *Store) emit(ctx context.Context, e *store.AuditEvent, l *lease.Lease) {
	if e == nil {
		return
	}
	purpose, leaseID := e.Purpose, e.LeaseID
	if l != nil {
		// The store fills these from the row when the caller could not.
		if purpose == "" {
			purpose = l.Purpose
		}
		if leaseID == "" {
			leaseID = l.ID
		}
	}
	attrs := []slog.Attr{
		slog.String("action", e.Action),
		slog.String("actor_kind", e.ActorKind),
		slog.String("actor_subject", e.ActorSubject),
		slog.String("purpose", purpose),
		slog.String("lease_id", leaseID),
		slog.String("result", e.Result),
	}
	if e.Reason != "" {
		attrs = append(attrs, slog.String("reason", e.Reason))
	}
	if e.TokenSHA256 != "" {
		attrs = append(attrs, slog.String("token_sha256", e.TokenSHA256))
	}
	if len(e.ActorClaims) > 0 {
		claims := make([]any, 0, len(e.ActorClaims))
		for k, v := range e.ActorClaims {
			claims = append(claims, slog.String(k, v))
		}
		attrs = append(attrs, slog.Group("actor_claims", claims...))
	}
	s.log.LogAttrs(ctx, slog.LevelInfo, "audit", attrs...)
}

// CreatePending logs only when it wrote the lease: a replay of an
// idempotency key wrote no event.
func (s *Store) CreatePending(ctx context.Context, p store.CreatePendingParams) (*store.CreatePendingResult, error) {
	res, err := s.Store.CreatePending(ctx, p)
	if err == nil && !res.Existing {
		s.emit(ctx, p.Audit, res.Lease)
	}
	return res, err
}

func (s *Store) Activate(ctx context.Context, p store.ActivateParams) (*lease.Lease, error) {
	l, err := s.Store.Activate(ctx, p)
	if err == nil {
		s.emit(ctx, p.Audit, l)
	}
	return l, err
}

func (s *Store) FailPending(ctx context.Context, p store.FailPendingParams) (*lease.Lease, error) {
	l, err := s.Store.FailPending(ctx, p)
	if err == nil {
		s.emit(ctx, p.Audit, l)
	}
	return l, err
}

func (s *Store) RenewLease(ctx context.Context, p store.RenewLeaseParams) (*lease.Lease, error) {
	l, err := s.Store.RenewLease(ctx, p)
	if err == nil {
		s.emit(ctx, p.Audit, l)
	}
	return l, err
}

// BeginRevoke logs only when it changed the lease: an already-ended lease
// wrote no event.
func (s *Store) BeginRevoke(ctx context.Context, p store.BeginRevokeParams) (*lease.Lease, bool, error) {
	l, already, err := s.Store.BeginRevoke(ctx, p)
	if err == nil && !already {
		s.emit(ctx, p.Audit, l)
	}
	return l, already, err
}

func (s *Store) CompleteRevoke(ctx context.Context, p store.CompleteRevokeParams) (*lease.Lease, error) {
	l, err := s.Store.CompleteRevoke(ctx, p)
	if err == nil {
		s.emit(ctx, p.Audit, l)
	}
	return l, err
}

func (s *Store) RecordRevokeFailure(ctx context.Context, p store.RecordRevokeFailureParams) (*lease.Lease, error) {
	l, err := s.Store.RecordRevokeFailure(ctx, p)
	if err == nil {
		s.emit(ctx, p.Audit, l)
	}
	return l, err
}

func (s *Store) ForgetLease(ctx context.Context, p store.ForgetLeaseParams) (*lease.Lease, error) {
	l, err := s.Store.ForgetLease(ctx, p)
	if err == nil {
		s.emit(ctx, p.Audit, l)
	}
	return l, err
}

func (s *Store) AppendAudit(ctx context.Context, e *store.AuditEvent) error {
	err := s.Store.AppendAudit(ctx, e)
	if err == nil {
		s.emit(ctx, e, nil)
	}
	return err
}
