package broker

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/store"
)

// Audit actions.
const (
	ActionIssue       = "issue"
	ActionRenew       = "renew"
	ActionRevoke      = "revoke"
	ActionDeny        = "deny"
	ActionQuota       = "quota_reject"
	ActionAdminRevoke = "admin_revoke_leases"
	ActionAdminForget = "admin_forget"
	ActionAdminAudit  = "admin_list_audit"
	ActionReplay      = "issue_replay"
	ActionMintFailed  = "mint_failed"
)

// event builds an audit record for the caller. The caller's claims are
// those its authenticator chose to keep, flattened to strings.
func (s *Service) event(id *auth.Identity, action, purpose, leaseID, result, reason string) *store.AuditEvent {
	e := &store.AuditEvent{
		Time:    s.now().UTC(),
		Action:  action,
		Purpose: purpose,
		LeaseID: leaseID,
		Result:  result,
		Reason:  reason,
	}
	if id != nil {
		e.ActorKind, e.ActorSubject = id.Kind, id.Subject
		if len(id.Claims) > 0 {
			e.ActorClaims = make(map[string]string, len(id.Claims))
			for k, v := range id.Claims {
				e.ActorClaims[k] = fmt.Sprint(v)
			}
		}
	}
	return e
}

// logAudit writes the one structured log line each audit event gets. It
// is called after the event is committed, so the log never reports what
// the table does not hold.
func (s *Service) logAudit(ctx context.Context, e *store.AuditEvent) {
	s.log.LogAttrs(ctx, slog.LevelInfo, "audit",
		slog.String("action", e.Action),
		slog.String("actor", e.ActorKind+":"+e.ActorSubject),
		slog.String("purpose", e.Purpose),
		slog.String("lease_id", e.LeaseID),
		slog.String("result", e.Result),
		slog.String("reason", e.Reason),
		slog.String("token_sha256", e.TokenSHA256),
	)
}

// appendAudit records an event that has no state change to ride along
// with (denials, rejections, admin reads).
func (s *Service) appendAudit(ctx context.Context, e *store.AuditEvent) {
	if err := s.cfg.Store.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		s.log.ErrorContext(ctx, "audit append failed", "action", e.Action, "err", err)
	}
	s.logAudit(ctx, e)
}
