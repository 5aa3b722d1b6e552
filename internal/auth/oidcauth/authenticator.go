package oidcauth

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/errs"
)

// Authenticator verifies OIDC bearer tokens. It is safe for concurrent
// use.
type Authenticator struct {
	cfg   Config
	byURL map[string]*issuer
}

var _ auth.Authenticator = (*Authenticator)(nil)

// New checks cfg and returns an Authenticator. It makes no network calls.
func New(cfg Config) (*Authenticator, error) {
	var errs []error
	for _, p := range Check(cfg) {
		errs = append(errs, errors.New(p.String()))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("oidc config: %w", err)
	}
	cfg.complete()
	a := &Authenticator{cfg: cfg, byURL: make(map[string]*issuer, len(cfg.Issuers))}
	for i, is := range cfg.Issuers {
		r, err := cfg.resolve(is)
		if err != nil {
			errs = append(errs, fmt.Errorf("issuers[%d]: %w", i, err))
			continue
		}
		a.byURL[r.url] = &issuer{cfg: r, a: a}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("oidc config: %w", err)
	}
	return a, nil
}

// Authenticate implements auth.Authenticator. Bearers that are not
// JWT-shaped are left to other authenticators.
func (a *Authenticator) Authenticate(ctx context.Context, c auth.Credentials) (*auth.Identity, error) {
	if c.Bearer == "" || !auth.LooksLikeJWT(c.Bearer) {
		return nil, auth.ErrNoCredentials
	}
	iss, err := peekIssuer(c.Bearer)
	if err != nil {
		return nil, err
	}
	is, ok := a.byURL[iss]
	if !ok {
		return nil, fmt.Errorf("issuer %s is not trusted: %w", quoteShort(iss), errs.Unauthenticated)
	}
	v, err := is.getVerifier(ctx)
	if err != nil {
		return nil, err
	}
	vctx, slot := withErrSlot(ctx)
	tok, err := v.Verify(vctx, c.Bearer)
	if err != nil {
		if errors.Is(slot.err, errs.Unavailable) {
			return nil, fmt.Errorf("issuer %q: %w", is.cfg.name, slot.err)
		}
		return nil, fmt.Errorf("issuer %q: %v: %w", is.cfg.name, err, errs.Unauthenticated)
	}
	var claims map[string]any
	if err := tok.Claims(&claims); err != nil {
		return nil, fmt.Errorf("issuer %q: decoding claims: %w", is.cfg.name, errs.Unauthenticated)
	}
	claims = auth.NormalizeClaims(claims).(map[string]any)
	if err := checkTimes(claims, a.cfg.Now(), a.cfg.ClockSkew, a.cfg.MaxTokenLifetime); err != nil {
		return nil, fmt.Errorf("issuer %q: %w", is.cfg.name, err)
	}
	if err := checkIdentityText("sub", tok.Subject); err != nil {
		return nil, fmt.Errorf("issuer %q: %w", is.cfg.name, err)
	}
	owner, ownerClaims, err := ownerOf(is.cfg.name, is.cfg.owners, claims)
	if err != nil {
		return nil, fmt.Errorf("issuer %q: %w", is.cfg.name, err)
	}
	return &auth.Identity{
		Kind:        auth.KindOIDC,
		Subject:     is.cfg.name + "/" + tok.Subject,
		Claims:      keep(claims, is.cfg.claims),
		LeaseOwner:  owner,
		OwnerClaims: ownerClaims,
	}, nil
}

// peekIssuer reads iss from the unverified payload. It only selects which
// issuer's keys to verify with; nothing else is trusted before that.
func peekIssuer(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("token is not a compact JWS: %w", errs.Unauthenticated)
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", fmt.Errorf("token payload is not base64url: %w", errs.Unauthenticated)
	}
	var p struct {
		Iss string `json:"iss"`
	}
	if err := json.Unmarshal(payload, &p); err != nil || p.Iss == "" {
		return "", fmt.Errorf("token has no iss: %w", errs.Unauthenticated)
	}
	return p.Iss, nil
}

// quoteShort quotes an untrusted string for a log line, bounded so a huge
// forged iss cannot flood the log.
func quoteShort(s string) string {
	const limit = 128
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return fmt.Sprintf("%q", s)
}
