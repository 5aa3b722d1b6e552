package broker

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/types/known/durationpb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/policy"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/upstream"
)

// IssueToken mints a token for a purpose the caller is admitted to.
func (s *Service) IssueToken(ctx context.Context, req *ztbrokerv1.IssueTokenRequest) (*ztbrokerv1.IssueTokenResponse, error) {
	resp, err := s.issue(ctx, req)
	if err != nil {
		return nil, s.toStatus(ctx, "IssueToken", err)
	}
	return resp, nil
}

func (s *Service) issue(ctx context.Context, req *ztbrokerv1.IssueTokenRequest) (*ztbrokerv1.IssueTokenResponse, error) {
	id, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.gate(ctx, id); err != nil {
		return nil, err
	}
	p, ok := s.cfg.Purposes.Get(req.GetPurpose())
	if !ok {
		return nil, errs.Public(errs.NotFound, fmt.Sprintf("purpose %q does not exist", truncate(req.GetPurpose(), 70)))
	}
	adm := p.Policy.Decide(id)
	if !adm.Allowed {
		return nil, s.deny(ctx, id, p.Name, "", "issue")
	}
	g, err := grantTTL(p, adm, req)
	if err != nil {
		return nil, err
	}
	if err := validateLabels(req.GetLabels()); err != nil {
		return nil, err
	}
	if err := validateText("idempotency_key", req.GetIdempotencyKey(), maxIdemKeyLen); err != nil {
		return nil, err
	}

	// PostgreSQL keeps microseconds; trimming here makes what we return
	// equal to what a later read returns.
	now := s.now().UTC().Truncate(time.Microsecond)
	leaseID := uuid.Must(uuid.NewV7()).String()
	upstreamName := lease.UpstreamNameFor(s.cfg.NamePrefix, p.Name, leaseID)
	if p.IsProxy() {
		upstreamName = "" // nothing is minted upstream
	}
	created, err := s.cfg.Store.CreatePending(ctx, store.CreatePendingParams{
		ID:              leaseID,
		Purpose:         p.Name,
		Owner:           id.Owner(),
		Labels:          req.GetLabels(),
		Delivery:        p.delivery(),
		Upstream:        p.Issuer.Upstream(),
		UpstreamKind:    p.Issuer.Kind(),
		UpstreamAccount: p.Issuer.Account(),
		UpstreamName:    upstreamName,
		Now:             now,
		ExpireTime:      now.Add(g.ttl),
		MaxExpireTime:   now.Add(g.max),
		IdempotencyKey:  req.GetIdempotencyKey(),
		AdmittedBy:      adm.Rule,
		GrantedMaxTTL:   g.max,
		RequestedTTL:    g.requested,
		OwnerClaims:     id.OwnerClaims,
		Quota:           p.Quota,
	})
	switch {
	case errors.Is(err, errs.ResourceExhausted):
		return nil, s.quotaRejected(ctx, id, p, err)
	case err != nil:
		return nil, err
	case created.Existing:
		return s.replay(ctx, id, p, adm, g, req, created.Lease)
	}

	// From here on a token may exist upstream, so the caller hanging up
	// must not stop the sequence halfway.
	mctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.cfg.MintTimeout)
	defer cancel()
	return s.mint(mctx, id, p, created.Lease, adm.Rule)
}

// grant is what an admission allows one issue request.
type grant struct {
	// ttl is the lease's first TTL; max the longest it may live in all,
	// after the purpose's and the admitting rule's limits.
	ttl, max time.Duration
	// requested is the TTL the request named, zero for the default.
	requested time.Duration
}

// capFor is the longest lease an admission allows for a purpose.
func capFor(p *Purpose, adm policy.Decision) time.Duration {
	if adm.MaxTTL > 0 && adm.MaxTTL < p.MaxTTL {
		return adm.MaxTTL
	}
	return p.MaxTTL
}

// grantTTL applies the purpose's and the admitting rule's limits to the
// request's TTL.
func grantTTL(p *Purpose, adm policy.Decision, req *ztbrokerv1.IssueTokenRequest) (grant, error) {
	g := grant{max: capFor(p, adm)}
	g.ttl = min(p.DefaultTTL, g.max)
	if d := req.GetTtl(); d != nil {
		ttl, err := checkTTL(p.Name, d, p.MinTTL, g.max)
		if err != nil {
			return grant{}, err
		}
		g.ttl, g.requested = ttl, ttl
	}
	return g, nil
}

// checkTTL validates a requested TTL for a purpose, between its minimum
// and max, the caller's cap (zero: none known).
func checkTTL(purpose string, d *durationpb.Duration, min, max time.Duration) (time.Duration, error) {
	if err := d.CheckValid(); err != nil {
		return 0, invalid("ttl is not a valid duration")
	}
	ttl := d.AsDuration()
	switch {
	case ttl <= 0:
		return 0, invalid("ttl must be positive, got %s", ttl)
	case ttl < min:
		return 0, invalid("ttl %s is below the minimum of %s for purpose %q", ttl, min, purpose)
	case max > 0 && ttl > max:
		return 0, invalid("ttl %s exceeds the maximum of %s for purpose %q", ttl, max, purpose)
	}
	return ttl, nil
}

func (s *Service) mint(ctx context.Context, id *auth.Identity, p *Purpose, pending *lease.Lease, rule string) (*ztbrokerv1.IssueTokenResponse, error) {
	var minted *upstream.Minted
	if p.IsProxy() {
		// The broker's own credential: nothing exists upstream, so a
		// failure here has nothing to clean up but the lease.
		cred, err := s.cfg.NewCredential()
		if err != nil {
			s.failPending(ctx, id, p, pending, lease.ReasonMintFailed)
			s.cfg.Metrics.issued.WithLabelValues(p.Name, "error").Inc()
			return nil, fmt.Errorf("make proxy credential: %w", err)
		}
		minted = &upstream.Minted{Secret: cred}
	} else {
		var upstreamExpiry time.Time
		if p.Issuer.Kind() == lease.UpstreamNewCentral {
			upstreamExpiry = pending.MaxExpireTime.Add(cmp.Or(p.ExpirySkew, s.cfg.ExpirySkew))
		}
		var err error
		minted, err = p.Issuer.Mint(ctx, pending.UpstreamName, upstreamExpiry)
		if err != nil {
			s.abandon(ctx, id, p, pending, err)
			s.cfg.Metrics.issued.WithLabelValues(p.Name, "upstream_error").Inc()
			return nil, errs.Public(errs.Unavailable, "the ZeroTier API did not mint a token; no token was issued, retry later")
		}
	}
	hash := lease.HashToken(minted.Secret)
	act := store.ActivateParams{
		ID:                 pending.ID,
		UpstreamTokenID:    minted.ID,
		TokenSHA256:        hash,
		UpstreamExpireTime: minted.Expires,
		Now:                s.now().UTC(),
	}
	if s.cfg.Sealer != nil && pending.IdempotencyKey != "" {
		sealed, err := s.cfg.Sealer.Seal([]byte(minted.Secret), pending.ID)
		if err != nil {
			s.discard(ctx, id, p, pending, minted.ID)
			return nil, fmt.Errorf("seal secret: %w", err)
		}
		act.SealedSecret, act.SealedUntil = sealed, pending.IssueTime.Add(s.cfg.ReplayWindow)
	}
	reason := "admitted by " + rule
	if p.IsProxy() {
		reason += "; proxy delivery"
	}
	ev := s.event(id, ActionIssue, p.Name, pending.ID, "ok", reason)
	ev.TokenSHA256 = hash
	act.Audit = ev
	l, err := s.cfg.Store.Activate(ctx, act)
	if err != nil {
		// Without an active row the token must not live: delete it now,
		// or leave the lease pending for the sweeper to delete it.
		s.discard(ctx, id, p, pending, minted.ID)
		s.cfg.Metrics.issued.WithLabelValues(p.Name, "store_error").Inc()
		if errors.Is(err, errs.Conflict) {
			return nil, errs.Public(errs.Unavailable, "issuance took too long and was abandoned; retry")
		}
		return nil, fmt.Errorf("activate lease: %w", err)
	}
	s.recent.add(l)
	s.cfg.Revoker.Nudge(l.ExpireTime)
	s.cfg.Metrics.issued.WithLabelValues(p.Name, "ok").Inc()
	return &ztbrokerv1.IssueTokenResponse{
		Token:      minted.Secret,
		Lease:      leaseToProto(l),
		ApiBaseUrl: p.apiBaseURL(),
		AuthScheme: p.authScheme(),
	}, nil
}

// abandon cleans up after a failed mint. An error that may have come after
// the upstream created the token (a timeout, a 5xx, a 2xx without the key)
// is ambiguous, so the token is looked up by its name and deleted. Only
// when that succeeds, or the failure was unambiguous, is the lease marked
// failed; otherwise it stays pending and the sweeper finishes the job.
func (s *Service) abandon(ctx context.Context, id *auth.Identity, p *Purpose, pending *lease.Lease, mintErr error) {
	s.log.WarnContext(ctx, "upstream mint failed", "lease_id", pending.ID, "purpose", p.Name, "err", mintErr)
	if upstream.IsAmbiguous(mintErr) {
		if err := deleteByName(ctx, p.Issuer, pending.UpstreamName); err != nil {
			s.log.WarnContext(ctx, "cleanup after failed mint deferred to sweeper", "lease_id", pending.ID, "err", err)
			return
		}
	}
	s.failPending(ctx, id, p, pending, lease.ReasonMintFailed)
}

// discard deletes a minted token whose lease could not be activated. The
// lease's end is audited as the caller's, like any other failed mint. A
// proxy lease's credential exists nowhere but here, so only the lease
// needs ending.
func (s *Service) discard(ctx context.Context, id *auth.Identity, p *Purpose, pending *lease.Lease, tokenID string) {
	if p.IsProxy() {
		s.failPending(ctx, id, p, pending, lease.ReasonMintFailed)
		return
	}
	if err := p.Issuer.Delete(upstream.WithPriority(ctx, upstream.PriorityRevoke), tokenID); err != nil {
		s.log.ErrorContext(ctx, "could not delete token of unactivated lease; sweeper will retry", "lease_id", pending.ID, "err", err)
		return
	}
	s.failPending(ctx, id, p, pending, lease.ReasonMintFailed)
}

func (s *Service) failPending(ctx context.Context, id *auth.Identity, p *Purpose, pending *lease.Lease, reason string) {
	ev := s.event(id, ActionMintFailed, p.Name, pending.ID, "failed", reason)
	if _, err := s.cfg.Store.FailPending(ctx, store.FailPendingParams{
		ID: pending.ID, Reason: reason, Now: s.now().UTC(), Audit: ev,
	}); err != nil {
		if errors.Is(err, errs.Conflict) {
			// The sweeper judged the lease stale and ended it first.
			return
		}
		s.log.ErrorContext(ctx, "could not mark lease failed; sweeper will retry", "lease_id", pending.ID, "err", err)
	}
}

func deleteByName(ctx context.Context, is upstream.Issuer, name string) error {
	ctx = upstream.WithPriority(ctx, upstream.PriorityRevoke)
	toks, err := is.List(ctx)
	if err != nil {
		return err
	}
	for _, t := range toks {
		// Exactly the lease's own name, and never the admin credential.
		if t.Name != name || t.Protected {
			continue
		}
		if err := is.Delete(ctx, t.ID); err != nil {
			return err
		}
	}
	return nil
}

func (s *Service) quotaRejected(ctx context.Context, id *auth.Identity, p *Purpose, err error) error {
	s.cfg.Metrics.denied.WithLabelValues(p.Name, "quota").Inc()
	var q *store.QuotaError
	if !errors.As(err, &q) {
		return err
	}
	s.refused(ctx, id, s.event(id, ActionQuota, p.Name, "", "rejected", q.Limit))
	pub := &errs.PublicError{
		Kind: errs.ResourceExhausted,
		Msg:  fmt.Sprintf("quota %s of purpose %q reached (max %d)", q.Limit, p.Name, q.Max),
	}
	if q.RetryAfter > 0 {
		pub.RetryAfterSeconds = int((q.RetryAfter + time.Second - 1) / time.Second)
	}
	return pub
}
