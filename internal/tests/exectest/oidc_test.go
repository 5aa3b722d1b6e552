package exectest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// oidcIssuer is an OIDC token issuer the broker discovers over HTTPS:
// the role token.actions.githubusercontent.com plays for real jobs.
type oidcIssuer struct {
	srv      *httptest.Server
	caFile   string
	key      *ecdsa.PrivateKey
	name     string
	audience string
	subject  string
}

func startOIDCIssuer(t *testing.T) *oidcIssuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	is := &oidcIssuer{key: key, name: "gha", audience: "ztbroker-ci", subject: "repo:acme/infra:environment:prod"}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": is.url(), "jwks_uri": is.url() + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: key.Public(), KeyID: "k1", Algorithm: string(jose.ES256), Use: "sig"},
		}})
	})
	is.srv = httptest.NewTLSServer(mux)
	t.Cleanup(is.srv.Close)
	is.caFile = filepath.Join(t.TempDir(), "issuer-ca.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: is.srv.Certificate().Raw})
	if err := os.WriteFile(is.caFile, certPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return is
}

func (is *oidcIssuer) url() string { return is.srv.URL }

// owner is the broker's name for the issuer's subject.
func (is *oidcIssuer) owner() string { return "oidc:" + is.name + "/" + is.subject }

// mint signs an ID token for the subject and audience.
func (is *oidcIssuer) mint(t *testing.T) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: is.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims, err := json.Marshal(map[string]any{
		"iss":        is.url(),
		"aud":        is.audience,
		"sub":        is.subject,
		"repository": "acme/infra",
		"run_id":     "9001",
		"iat":        now.Unix(),
		"exp":        now.Add(10 * time.Minute).Unix(),
	})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.Sign(claims)
	if err != nil {
		t.Fatal(err)
	}
	jwt, err := sig.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return jwt
}
