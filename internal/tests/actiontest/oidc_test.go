package actiontest

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
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// issuer is the OIDC issuer the broker discovers over HTTPS, standing in
// for token.actions.githubusercontent.com.
type issuer struct {
	srv    *httptest.Server
	caFile string
	key    *ecdsa.PrivateKey
}

const (
	issuerName = "gha"
	subject    = "repo:acme/infra:ref:refs/heads/main"
	audience   = "ztbroker-ci"
)

func startIssuer(t *testing.T) *issuer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	is := &issuer{key: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": is.srv.URL, "jwks_uri": is.srv.URL + "/keys"})
	})
	mux.HandleFunc("GET /keys", func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: key.Public(), KeyID: "k1", Algorithm: string(jose.ES256), Use: "sig"},
		}})
	})
	is.srv = httptest.NewTLSServer(mux)
	t.Cleanup(is.srv.Close)
	is.caFile = filepath.Join(t.TempDir(), "issuer-ca.pem")
	if err := os.WriteFile(is.caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: is.srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return is
}

// mint signs an ID token for aud, as the runtime would for the job.
func (is *issuer) mint(t *testing.T, aud string) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: is.key},
		(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "k1"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	claims, _ := json.Marshal(map[string]any{
		"iss": is.srv.URL, "aud": aud, "sub": subject, "repository": "acme/infra",
		"iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix(),
	})
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

// runtime is the Actions runtime's ID token endpoint: it answers only its
// request token, and mints for the audience asked.
type runtime struct {
	srv          *httptest.Server
	requestToken string

	mu     sync.Mutex
	minted []string
}

func startRuntime(t *testing.T, is *issuer) *runtime {
	t.Helper()
	rt := &runtime{requestToken: "ghs_runtime_" + rand.Text()}
	rt.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+rt.requestToken {
			http.Error(w, "bad request token", http.StatusUnauthorized)
			return
		}
		jwt := is.mint(t, r.URL.Query().Get("audience"))
		rt.mu.Lock()
		rt.minted = append(rt.minted, jwt)
		rt.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]string{"value": jwt})
	}))
	t.Cleanup(rt.srv.Close)
	return rt
}

func (rt *runtime) jwts() []string {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]string(nil), rt.minted...)
}
