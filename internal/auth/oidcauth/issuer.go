package oidcauth

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"

	"github.com/ztbroker/ztbroker/internal/errs"
)

// issuer verifies tokens of one trusted issuer. Its verifier is built on
// first use, after discovery, so start-up does not depend on every issuer
// being reachable.
type issuer struct {
	cfg resolved
	a   *Authenticator

	mu          sync.Mutex
	verifier    *oidc.IDTokenVerifier
	lastAttempt time.Time
	attempted   bool
}

func (is *issuer) getVerifier(ctx context.Context) (*oidc.IDTokenVerifier, error) {
	is.mu.Lock()
	defer is.mu.Unlock()
	if is.verifier != nil {
		return is.verifier, nil
	}
	now := is.a.cfg.Now()
	if is.attempted && now.Sub(is.lastAttempt) < is.a.cfg.MinRefreshInterval {
		return nil, fmt.Errorf("issuer %q discovery failed recently: %w", is.cfg.name, errs.Unavailable)
	}
	is.lastAttempt, is.attempted = now, true

	jwksURL := is.cfg.jwksURL
	if jwksURL == "" {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), is.a.cfg.FetchTimeout)
		defer cancel()
		u, err := discover(fctx, is.cfg.client, is.cfg.url)
		if err != nil {
			is.a.cfg.Logger.WarnContext(ctx, "oidc discovery failed", "issuer", is.cfg.url, "error", err)
			return nil, fmt.Errorf("issuer %q discovery: %v: %w", is.cfg.name, err, errs.Unavailable)
		}
		jwksURL = u
	}
	algs := make([]jose.SignatureAlgorithm, len(is.cfg.algs))
	for i, a := range is.cfg.algs {
		algs[i] = jose.SignatureAlgorithm(a)
	}
	keys := &keySet{
		url:      jwksURL,
		client:   is.cfg.client,
		algs:     algs,
		now:      is.a.cfg.Now,
		interval: is.a.cfg.MinRefreshInterval,
		timeout:  is.a.cfg.FetchTimeout,
		log:      is.a.cfg.Logger,
	}
	is.verifier = oidc.NewVerifier(is.cfg.url, keys, &oidc.Config{
		ClientID:             is.cfg.audience,
		SupportedSigningAlgs: is.cfg.algs,
		// Expiry and nbf are checked by checkTimes with the configured
		// skew; go-oidc's own check allows none on exp and 5m on nbf.
		SkipExpiryCheck: true,
		Now:             is.a.cfg.Now,
	})
	return is.verifier, nil
}
