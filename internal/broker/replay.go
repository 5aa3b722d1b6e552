package broker

import (
	"context"
	"errors"
	"fmt"
	"maps"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/policy"
	"github.com/ztbroker/ztbroker/internal/store"
)

// replay answers a retried IssueToken whose idempotency key already has a
// lease. It never mints: it returns the sealed secret while the replay
// window lasts, and otherwise says plainly that the secret is gone.
//
// Only the same request, from a caller the current policy admits on the
// same terms, gets the lease back: a key that comes back with another
// purpose, TTL or labels, or from a caller now admitted by another rule
// or with a lower cap, is refused rather than handed a lease granted to
// something else.
func (s *Service) replay(ctx context.Context, id *auth.Identity, p *Purpose, adm policy.Decision, g grant,
	req *ztbrokerv1.IssueTokenRequest, l *lease.Lease) (*ztbrokerv1.IssueTokenResponse, error) {
	if field := differingField(l, p, g, req); field != "" {
		return nil, &errs.PublicError{
			Kind: errs.FailedPrecondition,
			Msg: fmt.Sprintf("idempotency key %q was first used for lease %s with a different %s; "+
				"retry with the same request or use a new key", truncate(req.GetIdempotencyKey(), 70), l.ID, field),
			Reason:   errs.ReasonIdempotencyKeyReused,
			Metadata: map[string]string{"field": field, "lease_id": l.ID},
		}
	}
	if l.AdmittedBy != "" && (l.AdmittedBy != adm.Rule || g.max < l.GrantedMaxTTL) {
		return nil, &errs.PublicError{
			Kind: errs.FailedPrecondition,
			Msg: fmt.Sprintf("lease %s for this idempotency key was granted on terms that do not admit the caller now; "+
				"use a new key", l.ID),
			Reason:   errs.ReasonIdempotencyKeyReused,
			Metadata: map[string]string{"field": "admission", "lease_id": l.ID},
		}
	}
	switch l.State {
	case lease.StatePending:
		return nil, &errs.PublicError{
			Kind:              errs.Unavailable,
			Msg:               fmt.Sprintf("lease %s for this idempotency key is still being issued; retry", l.ID),
			RetryAfterSeconds: 1,
		}
	case lease.StateActive:
	default:
		return nil, errs.Public(errs.FailedPrecondition,
			fmt.Sprintf("lease %s for this idempotency key has already ended (%s); use a new key", l.ID, l.State))
	}
	if s.cfg.Sealer == nil {
		return nil, errs.Public(errs.AlreadyExists,
			fmt.Sprintf("lease %s was already issued for this idempotency key; its secret cannot be shown again", l.ID))
	}
	sealed, err := s.cfg.Store.SealedSecret(ctx, store.SealedSecretParams{ID: l.ID, Now: s.now().UTC()})
	if errors.Is(err, errs.NotFound) {
		return nil, errs.Public(errs.AlreadyExists,
			fmt.Sprintf("lease %s was already issued for this idempotency key; its replay window has passed and the secret cannot be shown again", l.ID))
	}
	if err != nil {
		return nil, err
	}
	secret, err := s.cfg.Sealer.Open(sealed, l.ID)
	if err != nil {
		// A rotated seal key makes old ciphertext unreadable; that is the
		// same, to the caller, as an expired window.
		s.log.WarnContext(ctx, "sealed secret could not be opened", "lease_id", l.ID, "err", err)
		return nil, errs.Public(errs.AlreadyExists,
			fmt.Sprintf("lease %s was already issued for this idempotency key; its secret cannot be shown again", l.ID))
	}
	base, scheme, err := s.whereToUse(p, l)
	if err != nil {
		return nil, err
	}
	s.appendAudit(ctx, s.event(id, ActionReplay, p.Name, l.ID, "ok", "idempotent retry"))
	return &ztbrokerv1.IssueTokenResponse{
		Token:      string(secret),
		Lease:      leaseToProto(l),
		ApiBaseUrl: base,
		AuthScheme: scheme,
		Replayed:   true,
	}, nil
}

// whereToUse says where and how to use a replayed secret: the proxy's URL
// for a proxy lease (whose purpose must still deliver by proxy), the
// upstream of the account the token was minted on otherwise.
func (s *Service) whereToUse(p *Purpose, l *lease.Lease) (base, scheme string, err error) {
	if l.IsProxy() {
		if !p.IsProxy() {
			return "", "", errs.Public(errs.FailedPrecondition,
				fmt.Sprintf("lease %s was issued for proxy delivery, which purpose %q no longer offers", l.ID, p.Name))
		}
		return p.ProxyBaseURL, p.ProxyAuthScheme, nil
	}
	is, err := s.issuerOf(l)
	if err != nil {
		return "", "", err
	}
	return is.APIBaseURL(), is.AuthScheme(), nil
}

// differingField names the first of purpose, ttl and labels in which req
// differs from the request that created l, or returns "".
func differingField(l *lease.Lease, p *Purpose, g grant, req *ztbrokerv1.IssueTokenRequest) string {
	switch {
	case l.Purpose != p.Name:
		return "purpose"
	case l.AdmittedBy != "" && l.RequestedTTL != g.requested:
		// Leases from before the requested TTL was recorded have none to
		// compare with.
		return "ttl"
	case !maps.Equal(l.Labels, req.GetLabels()):
		return "labels"
	}
	return ""
}
