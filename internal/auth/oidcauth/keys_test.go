package oidcauth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/ztbroker/ztbroker/internal/auth/oidcauth"
	"github.com/ztbroker/ztbroker/internal/errs"
)

func TestForgedKnownKidDoesNotRefetch(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	if _, err := b.auth(sign(t, b.key, b.claims(nil))); err != nil {
		t.Fatal(err)
	}
	// Past the interval a refetch would be allowed, so only the known-kid
	// rule can keep a forgery from causing one.
	b.clock.Advance(2 * oidcauth.DefaultMinRefreshInterval)
	forged := newECKey(t, b.key.kid)
	if _, err := b.auth(sign(t, forged, b.claims(nil))); !errors.Is(err, errs.Unauthenticated) {
		t.Fatalf("err = %v, want unauthenticated", err)
	}
	if got := b.idp.jwksHits.Load(); got != 1 {
		t.Errorf("JWKS fetched %d times, want 1", got)
	}
}

func TestRSAKeys(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	strong, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	rs := signingKey{priv: strong, kid: "rsa", alg: jose.RS256}
	wk := signingKey{priv: weak, kid: "weak", alg: jose.RS256}
	b.idp.publish(rs)
	b.idp.publish(wk)
	if _, err := b.auth(sign(t, rs, b.claims(nil))); err != nil {
		t.Fatalf("RS256 with a 2048-bit key: %v", err)
	}
	if _, err := b.auth(sign(t, wk, b.claims(nil))); !errors.Is(err, errs.Unauthenticated) {
		t.Fatalf("1024-bit key: err = %v, want unauthenticated", err)
	}
	// A published key with an algorithm the issuer is not configured for
	// (ES256 and RS256 here) verifies nothing.
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	es384 := signingKey{priv: p384, kid: "p384", alg: jose.ES384}
	b.idp.publish(es384)
	if _, err := b.auth(sign(t, es384, b.claims(nil))); !errors.Is(err, errs.Unauthenticated) {
		t.Fatalf("ES384 token: err = %v, want unauthenticated", err)
	}
}

func TestKubernetesPresetKeepsNestedClaims(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *oidcauth.Config) {
		c.Issuers[0] = oidcauth.Issuer{Name: "prod", Preset: oidcauth.PresetKubernetes, IssuerURL: c.Issuers[0].IssuerURL}
	})
	k8s := map[string]any{"namespace": "deploy", "serviceaccount": map[string]any{"name": "runner", "uid": "u-1"}}
	id, err := b.auth(sign(t, b.key, b.claims(map[string]any{
		"sub": "system:serviceaccount:deploy:runner", "kubernetes.io": k8s,
	})))
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject != "prod/system:serviceaccount:deploy:runner" {
		t.Errorf("subject = %q", id.Subject)
	}
	got, _ := id.Claims["kubernetes.io"].(map[string]any)
	if got["namespace"] != "deploy" || id.Claims["repository"] != nil {
		t.Errorf("claims = %v", id.Claims)
	}
}

func TestConcurrentMissesShareOneFetch(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	if _, err := b.auth(sign(t, b.key, b.claims(nil))); err != nil {
		t.Fatal(err)
	}
	k2 := newECKey(t, "k2")
	b.idp.publish(k2)
	b.clock.Advance(oidcauth.DefaultMinRefreshInterval)
	tok := sign(t, k2, b.claims(nil))
	const n = 16
	errs := make(chan error, n)
	for range n {
		go func() {
			_, err := b.auth(tok)
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Errorf("concurrent verification: %v", err)
		}
	}
	if got := b.idp.jwksHits.Load(); got != 2 {
		t.Errorf("JWKS fetched %d times, want 2", got)
	}
}
