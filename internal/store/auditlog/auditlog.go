package auditlog

import (
	"context"
	"log/slog"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

// Store logs each audit event its inner store commits. It wraps every
// method by hand rather than embedding store.Store, so a method added to
// the interface does not compile here until someone decides whether it
// logs (logged.go) or passes through (passthrough.go).
type Store struct {
	inner store.Store
	log   *slog.Logger
}

var _ store.Store = (*Store)(nil)

// Wrap returns st logging audit events to log.
func Wrap(st store.Store, log *slog.Logger) *Store {
	return &Store{inner: st, log: log}
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
