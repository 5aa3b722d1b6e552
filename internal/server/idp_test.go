package server_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Names the OIDC tests configure.
const (
	idpName     = "ci"
	idpAudience = "ztbroker-test"
)

// fakeIdP is an OIDC issuer over HTTPS: a discovery document and a JWKS
// holding one RS256 key, which sign mints tokens with.
type fakeIdP struct {
	srv    *httptest.Server
	key    *rsa.PrivateKey
	kid    string
	caFile string
}

func newFakeIdP(t *testing.T) *fakeIdP {
	t.Helper()
	f := &fakeIdP{key: newRSAKey(t), kid: "k1"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": f.srv.URL, "jwks_uri": f.srv.URL + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: f.key.Public(), KeyID: f.kid, Algorithm: string(jose.RS256), Use: "sig"},
		}})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "fake IdP does not serve "+r.Method+" "+r.URL.Path, http.StatusNotImplemented)
	})
	f.srv = httptest.NewTLSServer(mux)
	t.Cleanup(f.srv.Close)
	// The broker trusts only this file for the issuer's HTTPS.
	f.caFile = writeFile(t, t.TempDir(), "idp-ca.crt",
		pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.srv.Certificate().Raw}))
	return f
}

// authYAML is the auth.oidc section trusting this IdP.
func (f *fakeIdP) authYAML() string {
	return fmt.Sprintf(`  oidc:
    audience: %s
    issuers:
      - name: %s
        issuer_url: %q
        ca_file: %q
        claims_to_keep: [repository, ref]
`, idpAudience, idpName, f.srv.URL, f.caFile)
}

// claims are a valid token's claims for sub, with extra merged in (a
// nil value deletes a claim).
func (f *fakeIdP) claims(sub string, extra map[string]any) map[string]any {
	now := time.Now()
	c := map[string]any{
		"iss": f.srv.URL, "sub": sub, "aud": idpAudience,
		"iat": now.Unix(), "nbf": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
		"repository": "acme/infra", "ref": "refs/heads/main", "run_id": "4711",
	}
	for k, v := range extra {
		if v == nil {
			delete(c, k)
			continue
		}
		c[k] = v
	}
	return c
}

// token signs a valid token for sub with the published key.
func (f *fakeIdP) token(t *testing.T, sub string, extra map[string]any) string {
	t.Helper()
	return signRS256(t, f.key, f.kid, f.claims(sub, extra))
}

func newRSAKey(t *testing.T) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func signRS256(t *testing.T, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	t.Helper()
	jwk := jose.JSONWebKey{Key: key, KeyID: kid, Algorithm: string(jose.RS256)}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jwk}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	obj, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := obj.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// unsignedToken is an "alg: none" token: the header and claims with an
// empty signature.
func unsignedToken(t *testing.T, claims map[string]any) string {
	t.Helper()
	h, err := json.Marshal(map[string]any{"alg": "none", "typ": "JWT"})
	if err != nil {
		t.Fatal(err)
	}
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}
