package clientcmd

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

func TestOIDCGitHubTokenReachesTheBroker(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		audience string // BROKER_OIDC_AUDIENCE; empty keeps the default
		wantAud  string
	}{
		{name: "default audience", wantAud: "ztbroker"},
		{name: "audience from the environment", audience: "broker.example.com", wantAud: "broker.example.com"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			runtime := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.Header.Get("Authorization") != "Bearer runtime-secret" {
					http.Error(w, "bad bearer", http.StatusUnauthorized)
					return
				}
				payload := base64.RawURLEncoding.EncodeToString([]byte(fmt.Sprintf(`{"exp":%d}`, time.Now().Add(time.Hour).Unix())))
				fmt.Fprintf(w, `{"value":"hdr.%s.aud-%s"}`, payload, r.URL.Query().Get("audience"))
			}))
			t.Cleanup(runtime.Close)

			var h *harness
			h = newHarness(t, issuingBroker(func() time.Time { return h.clock.Now() }))
			delete(h.vars, "BROKER_API_KEY")
			h.vars["BROKER_OIDC"] = "github"
			h.vars["BROKER_OIDC_AUDIENCE"] = tc.audience
			h.vars["ACTIONS_ID_TOKEN_REQUEST_URL"] = runtime.URL + "/token?api-version=2.0"
			h.vars["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "runtime-secret"
			h.env.HTTPClient = runtime.Client()

			if code := Token(context.Background(), []string{"issue", "--purpose", "deploy"}, h.env); code != ExitOK {
				t.Fatalf("exit %d, stderr %q", code, h.stderr)
			}
			calls := h.fake.called("IssueToken")
			if len(calls) != 1 {
				t.Fatalf("IssueToken called %d times", len(calls))
			}
			if got := calls[0].authz; !strings.HasPrefix(got, "Bearer hdr.") || !strings.HasSuffix(got, ".aud-"+tc.wantAud) {
				t.Errorf("authorization = %q, want the ID token for audience %q", got, tc.wantAud)
			}
		})
	}
}

func TestOIDCFetchIsRetriedWhenTheRuntimeFails(t *testing.T) {
	t.Parallel()
	var fetches atomic.Int32
	runtime := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fetches.Add(1) == 1 {
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, `{"value":"id-token"}`)
	}))
	t.Cleanup(runtime.Close)
	var h *harness
	h = newHarness(t, issuingBroker(func() time.Time { return h.clock.Now() }))
	delete(h.vars, "BROKER_API_KEY")
	h.vars["ACTIONS_ID_TOKEN_REQUEST_URL"] = runtime.URL + "/token"
	h.vars["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = "runtime-secret"
	h.env.HTTPClient = runtime.Client()

	done := make(chan int)
	go func() {
		done <- Token(context.Background(), []string{"issue", "--purpose", "deploy", "--oidc", "github"}, h.env)
	}()
	h.clock.next(t).fire()
	if code := exitOf(t, done); code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, h.stderr)
	}
	if got := h.fake.called("IssueToken")[0].authz; got != "Bearer id-token" {
		t.Errorf("authorization = %q", got)
	}
}

func TestCredentialProblemsFailBeforeAnyCall(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		vars       map[string]string
		args       []string
		wantCode   int
		wantStderr string
	}{
		{
			name:     "missing env token",
			vars:     map[string]string{"BROKER_API_KEY": "", "BROKER_OIDC": "env:ZTBROKER_ID_TOKEN"},
			wantCode: ExitUnauthenticated,
			wantStderr: `broker: issue token for purpose "deploy": unauthenticated: ` +
				"environment variable ZTBROKER_ID_TOKEN holding the OIDC token is empty or unset\n",
		},
		{
			name:       "two credentials",
			args:       []string{"--oidc", "file:/var/run/token"},
			wantCode:   ExitUsage,
			wantStderr: "broker: token issue: give either --api-key (BROKER_API_KEY) or --oidc (BROKER_OIDC), not both\n",
		},
		{
			name:       "bad oidc spec",
			vars:       map[string]string{"BROKER_API_KEY": ""},
			args:       []string{"--oidc", "gitlab"},
			wantCode:   ExitUsage,
			wantStderr: `broker: --oidc: invalid OIDC token source "gitlab": want github, env:VAR or file:PATH` + "\n",
		},
		{
			name:       "github outside actions",
			vars:       map[string]string{"BROKER_API_KEY": "", "BROKER_OIDC": "github"},
			wantCode:   ExitUnauthenticated,
			wantStderr: "broker: --oidc: unauthenticated: ACTIONS_ID_TOKEN_REQUEST_URL and ACTIONS_ID_TOKEN_REQUEST_TOKEN are not set; run inside GitHub Actions with `permissions: id-token: write`\n",
		},
		{
			name:       "bad timeout",
			vars:       map[string]string{"BROKER_TIMEOUT": "soon"},
			wantCode:   ExitUsage,
			wantStderr: `broker: token issue: --timeout / BROKER_TIMEOUT must be a positive duration such as 60s, got "soon"` + "\n",
		},
		{
			name:       "cert without key",
			args:       []string{"--tls-cert", "c.pem"},
			wantCode:   ExitUsage,
			wantStderr: "broker: token issue: --tls-cert and --tls-key (BROKER_TLS_CERT, BROKER_TLS_KEY) go together\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var h *harness
			h = newHarness(t, issuingBroker(func() time.Time { return h.clock.Now() }))
			for k, v := range tc.vars {
				h.vars[k] = v
			}
			args := append([]string{"issue", "--purpose", "deploy"}, tc.args...)
			if code := Token(context.Background(), args, h.env); code != tc.wantCode {
				t.Errorf("exit %d, want %d", code, tc.wantCode)
			}
			if diff := cmp.Diff(tc.wantStderr, h.stderr.String()); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			if n := len(h.fake.called("IssueToken")); n != 0 {
				t.Errorf("IssueToken called %d times, want 0", n)
			}
		})
	}
}

func TestFlagsOverrideTheEnvironment(t *testing.T) {
	t.Parallel()
	var h *harness
	h = newHarness(t, issuingBroker(func() time.Time { return h.clock.Now() }))
	addr := h.vars["BROKER_ADDR"]
	h.vars["BROKER_ADDR"] = "127.0.0.1:1"
	if code := Token(context.Background(), []string{"issue", "--purpose", "deploy", "--addr", addr, "--api-key", "other"}, h.env); code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, h.stderr)
	}
	if got := h.fake.called("IssueToken")[0].authz; got != "Bearer other" {
		t.Errorf("authorization = %q, want the --api-key value", got)
	}
}

// testPKI writes a CA, a server certificate for 127.0.0.1 and a client
// certificate to dir.
func testPKI(t *testing.T, dir string) (serverTLS *tls.Config) {
	t.Helper()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, ips []net.IP) ([]byte, *ecdsa.PrivateKey) {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			ExtKeyUsage: []x509.ExtKeyUsage{usage}, IPAddresses: ips, KeyUsage: x509.KeyUsageDigitalSignature}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, k
	}
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", "CERTIFICATE", caDER)
	cliDER, cliKey := leaf(2, "ci-runner", x509.ExtKeyUsageClientAuth, nil)
	write("client.pem", "CERTIFICATE", cliDER)
	cliKeyDER, _ := x509.MarshalECPrivateKey(cliKey)
	write("client-key.pem", "EC PRIVATE KEY", cliKeyDER)

	srvDER, srvKey := leaf(3, "broker", x509.ExtKeyUsageServerAuth, []net.IP{net.ParseIP("127.0.0.1")})
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}},
		ClientCAs:    pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}
}

func TestMutualTLS(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srvTLS := testPKI(t, dir)
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	peers := make(chan string, 1)
	fb := issuingBroker(time.Now)
	inner := fb.issue
	fb.issue = func(ctx context.Context, r *ztbrokerv1.IssueTokenRequest) (*ztbrokerv1.IssueTokenResponse, error) {
		p, _ := peer.FromContext(ctx)
		ti := p.AuthInfo.(credentials.TLSInfo)
		peers <- ti.State.PeerCertificates[0].Subject.CommonName
		return inner(ctx, r)
	}
	srv := grpc.NewServer(grpc.Creds(credentials.NewTLS(srvTLS)))
	ztbrokerv1.RegisterTokenBrokerServer(srv, fb)
	served := make(chan struct{})
	go func() { defer close(served); _ = srv.Serve(lis) }()
	t.Cleanup(func() { srv.Stop(); <-served })

	stdout, stderr := newSyncBuffer(), newSyncBuffer()
	vars := map[string]string{
		"BROKER_ADDR":     lis.Addr().String(),
		"BROKER_TLS_CA":   filepath.Join(dir, "ca.pem"),
		"BROKER_TLS_CERT": filepath.Join(dir, "client.pem"),
		"BROKER_TLS_KEY":  filepath.Join(dir, "client-key.pem"),
	}
	env := Env{Stdout: stdout, Stderr: stderr, Getenv: func(k string) string { return vars[k] }, Clock: newFakeClock()}
	if code := Token(context.Background(), []string{"issue", "--purpose", "deploy"}, env); code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, stderr)
	}
	if cn := <-peers; cn != "ci-runner" {
		t.Errorf("client certificate CN = %q, want ci-runner", cn)
	}
}
