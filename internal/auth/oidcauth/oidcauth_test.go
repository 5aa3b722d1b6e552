package oidcauth_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/auth/oidcauth"
	"github.com/ztbroker/ztbroker/internal/errs"
)

const audience = "ztbroker"

var epoch = time.Unix(1_900_000_000, 0)

type bundle struct {
	idp   *fakeIdP
	clock *fakeClock
	key   signingKey
	authn *oidcauth.Authenticator
}

// setup starts an issuer publishing one key and an authenticator trusting
// it as a GitHub-preset issuer at the test server's URL.
func setup(t testing.TB, mutate func(*oidcauth.Config)) *bundle {
	t.Helper()
	b := &bundle{idp: newFakeIdP(t), clock: &fakeClock{t: epoch}, key: newECKey(t, "k1")}
	b.idp.publish(b.key)
	cfg := oidcauth.Config{
		Issuers: []oidcauth.Issuer{{
			Name: "gh", Preset: oidcauth.PresetGitHub, IssuerURL: b.idp.srv.URL,
			SigningAlgs: []string{"ES256", "RS256"}, ClaimsToKeep: []string{"team"},
		}},
		Audience:   audience,
		HTTPClient: b.idp.srv.Client(),
		Now:        b.clock.Now,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	a, err := oidcauth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.authn = a
	return b
}

func (b *bundle) claims(over map[string]any) map[string]any {
	c := map[string]any{
		"iss":              b.idp.srv.URL,
		"sub":              "repo:acme/infra:ref:refs/heads/main",
		"aud":              audience,
		"exp":              epoch.Add(5 * time.Minute).Unix(),
		"iat":              epoch.Add(-time.Minute).Unix(),
		"nbf":              epoch.Add(-time.Minute).Unix(),
		"repository":       "acme/infra",
		"job_workflow_ref": "acme/infra/.github/workflows/deploy.yml@refs/heads/main",
		"run_attempt":      "1",
		"run_id":           12345,
		"team":             "ops",
		"unkept_claim":     "dropped",
	}
	for k, v := range over {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

func (b *bundle) auth(token string) (*auth.Identity, error) {
	return b.authn.Authenticate(context.Background(), auth.Credentials{Bearer: token})
}

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	other := newECKey(t, "k1") // same kid, different key: a forgery
	hsToken := unsigned(t, map[string]any{"alg": "HS256", "kid": "k1"}, b.claims(nil))
	wantOK := &auth.Identity{
		Kind:    auth.KindOIDC,
		Subject: "gh/repo:acme/infra:ref:refs/heads/main",
		Claims: map[string]any{
			"iss": b.idp.srv.URL, "sub": "repo:acme/infra:ref:refs/heads/main",
			"repository": "acme/infra", "run_attempt": "1", "run_id": int64(12345), "team": "ops",
			"job_workflow_ref": "acme/infra/.github/workflows/deploy.yml@refs/heads/main",
		},
		LeaseOwner: "oidc:gh/sub=repo:acme/infra:ref:refs/heads/main&job_workflow_ref=acme/infra/.github/workflows/deploy.yml@refs/heads/main",
		OwnerClaims: map[string]string{
			"sub":              "repo:acme/infra:ref:refs/heads/main",
			"job_workflow_ref": "acme/infra/.github/workflows/deploy.yml@refs/heads/main",
		},
	}
	tests := []struct {
		name    string
		token   string
		want    *auth.Identity
		wantErr error
	}{
		{name: "valid", token: sign(t, b.key, b.claims(nil)), want: wantOK},
		{name: "audience list containing ours", token: sign(t, b.key, b.claims(map[string]any{"aud": []string{"other", audience}})), want: wantOK},
		{name: "expired within skew", token: sign(t, b.key, b.claims(map[string]any{"exp": epoch.Add(-30 * time.Second).Unix()})), want: wantOK},
		{name: "expired", token: sign(t, b.key, b.claims(map[string]any{"exp": epoch.Add(-2 * time.Minute).Unix()})), wantErr: errs.Unauthenticated},
		{name: "no exp", token: sign(t, b.key, b.claims(map[string]any{"exp": nil})), wantErr: errs.Unauthenticated},
		{name: "exp far in the future", token: sign(t, b.key, b.claims(map[string]any{"exp": int64(1) << 40})), wantErr: errs.Unauthenticated},
		{name: "exp far in the future, no iat", token: sign(t, b.key, b.claims(map[string]any{"exp": int64(1) << 40, "iat": nil})), wantErr: errs.Unauthenticated},
		{name: "exp beyond the lifetime", token: sign(t, b.key, b.claims(map[string]any{"exp": epoch.Add(25 * time.Hour).Unix()})), wantErr: errs.Unauthenticated},
		{name: "issued to live too long", token: sign(t, b.key, b.claims(map[string]any{
			"iat": epoch.Add(-23 * time.Hour).Unix(), "nbf": nil, "exp": epoch.Add(2 * time.Hour).Unix()})), wantErr: errs.Unauthenticated},
		{name: "a day's token", token: sign(t, b.key, b.claims(map[string]any{"exp": epoch.Add(23 * time.Hour).Unix()})), want: wantOK},
		{name: "exp not a number", token: sign(t, b.key, b.claims(map[string]any{"exp": "soon"})), wantErr: errs.Unauthenticated},
		{name: "not yet valid within skew", token: sign(t, b.key, b.claims(map[string]any{"nbf": epoch.Add(30 * time.Second).Unix()})), want: wantOK},
		{name: "not yet valid", token: sign(t, b.key, b.claims(map[string]any{"nbf": epoch.Add(2 * time.Minute).Unix()})), wantErr: errs.Unauthenticated},
		{name: "issued in the future", token: sign(t, b.key, b.claims(map[string]any{"iat": epoch.Add(10 * time.Minute).Unix()})), wantErr: errs.Unauthenticated},
		{name: "wrong audience", token: sign(t, b.key, b.claims(map[string]any{"aud": "someone-else"})), wantErr: errs.Unauthenticated},
		{name: "no audience", token: sign(t, b.key, b.claims(map[string]any{"aud": nil})), wantErr: errs.Unauthenticated},
		{name: "unknown issuer", token: sign(t, b.key, b.claims(map[string]any{"iss": "https://evil.example.com"})), wantErr: errs.Unauthenticated},
		{name: "issuer with trailing slash is another issuer", token: sign(t, b.key, b.claims(map[string]any{"iss": b.idp.srv.URL + "/"})), wantErr: errs.Unauthenticated},
		{name: "no issuer", token: sign(t, b.key, b.claims(map[string]any{"iss": nil})), wantErr: errs.Unauthenticated},
		{name: "alg none", token: unsigned(t, map[string]any{"alg": "none", "kid": "k1"}, b.claims(nil)), wantErr: errs.Unauthenticated},
		{name: "alg HS256", token: hsToken, wantErr: errs.Unauthenticated},
		{name: "wrong key with known kid", token: sign(t, other, b.claims(nil)), wantErr: errs.Unauthenticated},
		{name: "no sub", token: sign(t, b.key, b.claims(map[string]any{"sub": nil})), wantErr: errs.Unauthenticated},
		{name: "no owner claim", token: sign(t, b.key, b.claims(map[string]any{"job_workflow_ref": nil})), wantErr: errs.Unauthenticated},
		{name: "owner claim not a scalar", token: sign(t, b.key, b.claims(map[string]any{"job_workflow_ref": []string{"a"}})), wantErr: errs.Unauthenticated},
		{name: "owner claim too long", token: sign(t, b.key, b.claims(map[string]any{"job_workflow_ref": strings.Repeat("w", 1025)})), wantErr: errs.Unauthenticated},
		{name: "control character in sub", token: sign(t, b.key, b.claims(map[string]any{"sub": "repo:a\x00b"})), wantErr: errs.Unauthenticated},
		{name: "NUL in owner claim", token: sign(t, b.key, b.claims(map[string]any{"job_workflow_ref": "a\u0000b"})), wantErr: errs.Unauthenticated},
		{name: "garbage that looks like a jwt", token: "eyJhbGciOi.eyJpc3Mi.c2ln", wantErr: errs.Unauthenticated},
		{name: "api key is not ours", token: "ztk_not_a_jwt", wantErr: auth.ErrNoCredentials},
		{name: "no bearer", token: "", wantErr: auth.ErrNoCredentials},
	}
	t.Run("cases", func(t *testing.T) {
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				t.Parallel()
				got, err := b.auth(tt.token)
				if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				if diff := cmp.Diff(tt.want, got); diff != "" {
					t.Errorf("identity (-want +got):\n%s", diff)
				}
				if err != nil && tt.token != "" && strings.Contains(err.Error(), tt.token) {
					t.Errorf("error carries the token: %v", err)
				}
			})
		}
	})
	// The forged token with a known kid must not have caused a refetch;
	// only the first verification fetched keys.
	if got := b.idp.jwksHits.Load(); got != 1 {
		t.Errorf("JWKS fetched %d times, want 1", got)
	}
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	if _, err := b.auth(sign(t, b.key, b.claims(nil))); err != nil {
		t.Fatal(err)
	}
	// The issuer rotates: k2 appears after the broker cached k1.
	k2 := newECKey(t, "k2")
	b.idp.publish(k2)
	rotated := sign(t, k2, b.claims(nil))

	// Within the refresh interval the new kid is refused without a fetch,
	// however many tokens (or made-up kids) arrive.
	for i := range 20 {
		tok := rotated
		if i%2 == 1 {
			tok = sign(t, newECKey(t, "made-up-"+string(rune('a'+i))), b.claims(nil))
		}
		if _, err := b.auth(tok); !errors.Is(err, errs.Unauthenticated) {
			t.Fatalf("token %d: err = %v, want unauthenticated", i, err)
		}
	}
	if got := b.idp.jwksHits.Load(); got != 1 {
		t.Fatalf("JWKS fetched %d times within the interval, want 1", got)
	}

	b.clock.Advance(oidcauth.DefaultMinRefreshInterval)
	id, err := b.auth(rotated)
	if err != nil {
		t.Fatalf("rotated key after the interval: %v", err)
	}
	if id.Subject != "gh/repo:acme/infra:ref:refs/heads/main" {
		t.Errorf("subject = %q", id.Subject)
	}
	// The old key is still published and still works, without a fetch.
	if _, err := b.auth(sign(t, b.key, b.claims(nil))); err != nil {
		t.Fatal(err)
	}
	if got := b.idp.jwksHits.Load(); got != 2 {
		t.Errorf("JWKS fetched %d times, want 2", got)
	}
}

func TestDiscoveryFailureIsUnavailableAndBounded(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.idp.failDiscovery.Store(true)
	tok := sign(t, b.key, b.claims(nil))
	for range 5 {
		if _, err := b.auth(tok); !errors.Is(err, errs.Unavailable) {
			t.Fatalf("err = %v, want unavailable", err)
		}
	}
	if got := b.idp.discoveryHits.Load(); got != 1 {
		t.Fatalf("discovery attempted %d times, want 1", got)
	}
	b.idp.failDiscovery.Store(false)
	b.clock.Advance(oidcauth.DefaultMinRefreshInterval)
	if _, err := b.auth(tok); err != nil {
		t.Fatalf("after recovery: %v", err)
	}
}

func TestJWKSUnreachableIsUnavailable(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.idp.failJWKS.Store(true)
	if _, err := b.auth(sign(t, b.key, b.claims(nil))); !errors.Is(err, errs.Unavailable) {
		t.Fatalf("err = %v, want unavailable", err)
	}
}

func TestDiscoveryIssuerMismatch(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	b.idp.issuerInDoc = "https://elsewhere.example.com"
	if _, err := b.auth(sign(t, b.key, b.claims(nil))); !errors.Is(err, errs.Unavailable) {
		t.Fatalf("err = %v, want unavailable", err)
	}
	if got := b.idp.jwksHits.Load(); got != 0 {
		t.Errorf("keys fetched %d times from a mismatched issuer", got)
	}
}

func TestConfiguredJWKSURLSkipsDiscovery(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *oidcauth.Config) {
		c.Issuers[0].JWKSURL = c.Issuers[0].IssuerURL + "/keys"
		c.Issuers[0].Audience = "per-issuer"
	})
	if _, err := b.auth(sign(t, b.key, b.claims(map[string]any{"aud": "per-issuer"}))); err != nil {
		t.Fatal(err)
	}
	if got := b.idp.discoveryHits.Load(); got != 0 {
		t.Errorf("discovery hit %d times", got)
	}
	if _, err := b.auth(sign(t, b.key, b.claims(nil))); !errors.Is(err, errs.Unauthenticated) {
		t.Errorf("global audience accepted despite per-issuer override: %v", err)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	t.Parallel()
	base := func() oidcauth.Config {
		return oidcauth.Config{Audience: audience, Issuers: []oidcauth.Issuer{{Preset: oidcauth.PresetGitHub}}}
	}
	tests := map[string]func(*oidcauth.Config){
		"no issuers":     func(c *oidcauth.Config) { c.Issuers = nil },
		"unknown preset": func(c *oidcauth.Config) { c.Issuers[0].Preset = "azure" },
		"http issuer":    func(c *oidcauth.Config) { c.Issuers[0].IssuerURL = "http://idp.example.com" },
		"kubernetes w/o url": func(c *oidcauth.Config) {
			c.Issuers[0] = oidcauth.Issuer{Preset: oidcauth.PresetKubernetes}
		},
		"no audience":      func(c *oidcauth.Config) { c.Audience = "" },
		"alg none":         func(c *oidcauth.Config) { c.Issuers[0].SigningAlgs = []string{"none"} },
		"hmac":             func(c *oidcauth.Config) { c.Issuers[0].SigningAlgs = []string{"HS256"} },
		"skew too large":   func(c *oidcauth.Config) { c.ClockSkew = time.Hour },
		"duplicate":        func(c *oidcauth.Config) { c.Issuers = append(c.Issuers, c.Issuers[0]) },
		"generic w/o name": func(c *oidcauth.Config) { c.Issuers[0] = oidcauth.Issuer{IssuerURL: "https://idp.example.com"} },
		"missing ca file":  func(c *oidcauth.Config) { c.Issuers[0].CAFile = "/nonexistent/ca.pem" },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := base()
			mutate(&c)
			if _, err := oidcauth.New(c); err == nil {
				t.Fatal("New accepted the config")
			}
		})
	}
	if _, err := oidcauth.New(base()); err != nil {
		t.Fatalf("base config rejected: %v", err)
	}
}
