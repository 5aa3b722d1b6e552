package broker

import (
	"context"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

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
// those its authenticator chose to keep, flattened to strings, made safe
// to store and show, and cut to Config.MaxAuditClaimBytes.
func (s *Service) event(id *auth.Identity, action, purpose, leaseID, result, reason string) *store.AuditEvent {
	e := &store.AuditEvent{
		Time:    s.now().UTC(),
		Action:  action,
		Purpose: purpose,
		LeaseID: leaseID,
		Result:  result,
		Reason:  auditText(reason, 0),
	}
	// An event about a lease is stamped with the lease's own upstream by
	// the store (a purpose may have moved since); one about a purpose
	// alone (a refusal) names the purpose's.
	if p, ok := s.cfg.Purposes.Get(purpose); ok && leaseID == "" && p.Issuer != nil {
		e.Upstream = p.Issuer.Upstream()
	}
	if id != nil {
		e.ActorKind, e.ActorSubject = id.Kind, auditText(id.Subject, 0)
		if len(id.Claims) > 0 {
			e.ActorClaims = make(map[string]string, len(id.Claims))
			for k, v := range id.Claims {
				e.ActorClaims[auditText(k, 0)] = auditText(fmt.Sprint(v), s.cfg.MaxAuditClaimBytes)
			}
		}
	}
	return e
}

// auditText makes a value fit for the audit trail and its log line.
// Control characters become visible escapes: PostgreSQL's jsonb refuses
// NUL, which lost the denial's row, and terminals obey the rest. A value
// longer than max bytes (when max > 0) is cut at a character boundary,
// with a marker saying how much was dropped.
func auditText(v string, max int) string {
	v = strings.ToValidUTF8(v, "\uFFFD")
	if strings.ContainsFunc(v, unicode.IsControl) {
		var b strings.Builder
		for _, r := range v {
			if unicode.IsControl(r) {
				fmt.Fprintf(&b, "\\u%04x", r)
				continue
			}
			b.WriteRune(r)
		}
		v = b.String()
	}
	if max > 0 && len(v) > max {
		cut := max
		for cut > 0 && !utf8.RuneStart(v[cut]) {
			cut--
		}
		v = fmt.Sprintf("%s…[truncated %d bytes]", v[:cut], len(v)-cut)
	}
	return v
}

// appendAudit records an event that has no state change to ride along
// with (denials, rejections, admin reads). The store wrapper from package
// auditlog writes its log line, as for every other event.
func (s *Service) appendAudit(ctx context.Context, e *store.AuditEvent) {
	if err := s.cfg.Store.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		s.log.ErrorContext(ctx, "audit append failed", "action", e.Action, "err", err)
	}
}
