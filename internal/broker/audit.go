package broker

import (
	"context"
	"fmt"

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

// appendAudit records an event that has no state change to ride along
// with (denials, rejections, admin reads). The store wrapper from package
// auditlog writes its log line, as for every other event.
func (s *Service) appendAudit(ctx context.Context, e *store.AuditEvent) {
	if err := s.cfg.Store.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		s.log.ErrorContext(ctx, "audit append failed", "action", e.Action, "err", err)
	}
}
