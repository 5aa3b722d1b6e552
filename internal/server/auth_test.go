package server

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/testing/certtest"
)

const doc = `
listen:
  tls: {cert_file: tls.crt, key_file: tls.key, client_ca_file: ca.crt, client_auth: request}
database: {url: postgres://broker@localhost/x}
upstreams: {new_central: {admin_key_env: ADMIN}}
auth:
  api_keys: [{name: ops, key_env: OPS_KEY}]
  admins: ["api_key:ops", "mtls:spiffe://example.org/admin"]
  oidc:
    audience: ztbroker
    issuers: [{preset: github}]
  mtls: {enabled: true}
purposes:
  - name: p
    upstream: {kind: new_central, service_account_id: sa}
    allow: {api_keys: [ops]}
`

func TestNewAuthSetup(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	serverCA, clientCA := certtest.NewCA(t, "server-ca"), certtest.NewCA(t, "client-ca")
	srv := serverCA.Issue(t, certtest.Options{CN: "broker", Server: true})
	for name, data := range map[string][]byte{"tls.crt": srv.CertPEM, "tls.key": srv.KeyPEM, "ca.crt": clientCA.CertPEM} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"ADMIN": "admin-key", "OPS_KEY": "ops-secret"}
	cfg, err := config.ParseWith(filepath.Join(dir, "broker.yaml"), []byte(doc), config.Options{
		LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok },
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := newAuthSetup(cfg, authOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.TLS == nil || res.TLS.TLSConfig().GetConfigForClient == nil {
		t.Fatal("no reloading TLS config")
	}
	ctx := context.Background()

	id, err := res.Authenticator.Authenticate(ctx, auth.Credentials{Bearer: "ops-secret"})
	if err != nil || id.Owner() != "api_key:ops" || !id.Admin {
		t.Errorf("api key: %+v, %v", id, err)
	}

	admin := clientCA.Issue(t, certtest.Options{URIs: []string{"spiffe://example.org/admin"}})
	id, err = res.Authenticator.Authenticate(ctx, auth.Credentials{PeerCertificates: []*x509.Certificate{admin.Cert}})
	if err != nil || id.Owner() != "mtls:spiffe://example.org/admin" || !id.Admin {
		t.Errorf("client certificate: %+v, %v", id, err)
	}

	// A JWT reaches the OIDC authenticator, which refuses its issuer.
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"https://evil.example.com"}`))
	_, err = res.Authenticator.Authenticate(ctx, auth.Credentials{Bearer: "eyJhbGciOiJSUzI1NiJ9." + payload + ".c2ln"})
	if !errors.Is(err, errs.Unauthenticated) || !strings.Contains(err.Error(), "not trusted") {
		t.Errorf("foreign JWT: %v", err)
	}
}

func TestNewAuthSetupRefusesConfigWithoutSecrets(t *testing.T) {
	t.Parallel()
	noTLS := strings.NewReplacer(
		"  tls: {cert_file: tls.crt, key_file: tls.key, client_ca_file: ca.crt, client_auth: request}\n", "",
		"  mtls: {enabled: true}\n", "",
		`, "mtls:spiffe://example.org/admin"`, "",
	).Replace(doc)
	cfg, err := config.ParseWith("b.yaml", []byte(noTLS), config.Options{SkipSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := newAuthSetup(cfg, authOptions{}); err == nil {
		t.Fatal("Build accepted API keys without hashes")
	}
}
