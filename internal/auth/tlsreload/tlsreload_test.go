package tlsreload_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/auth/mtlsauth"
	"github.com/ztbroker/ztbroker/internal/auth/tlsreload"
	"github.com/ztbroker/ztbroker/internal/testing/certtest"
)

type files struct {
	dir, cert, key, ca string
	// gen makes every write visible as a change even when the clock has
	// not ticked between writes.
	gen int
}

func newFiles(t *testing.T) *files {
	dir := t.TempDir()
	return &files{dir: dir, cert: filepath.Join(dir, "tls.crt"), key: filepath.Join(dir, "tls.key"), ca: filepath.Join(dir, "ca.crt")}
}

func (f *files) write(t *testing.T, name string, data []byte) {
	t.Helper()
	if err := os.WriteFile(name, data, 0o600); err != nil {
		t.Fatal(err)
	}
	f.gen++
	mt := time.Unix(1_800_000_000+int64(f.gen), 0)
	if err := os.Chtimes(name, mt, mt); err != nil {
		t.Fatal(err)
	}
}

func (f *files) serve(t *testing.T, leaf *certtest.Leaf) {
	f.write(t, f.cert, leaf.CertPEM)
	f.write(t, f.key, leaf.KeyPEM)
}

type result struct {
	serverCN  string                // CN of the certificate the client saw
	chains    [][]*x509.Certificate // what the server verified
	serverErr error
}

// handshake runs one TLS handshake over an in-memory pipe.
func handshake(t *testing.T, serverCfg *tls.Config, serverCA *certtest.CA, client *certtest.Leaf) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cc, sc := net.Pipe()
	type srvOut struct {
		chains [][]*x509.Certificate
		err    error
	}
	done := make(chan srvOut, 1)
	go func() {
		s := tls.Server(sc, serverCfg)
		err := s.HandshakeContext(ctx)
		done <- srvOut{chains: s.ConnectionState().VerifiedChains, err: err}
		sc.Close()
	}()
	ccfg := &tls.Config{RootCAs: serverCA.Pool(), ServerName: "broker.test", MinVersion: tls.VersionTLS12}
	if client != nil {
		// Present the certificate even when its issuer is not among the
		// server's acceptable CAs, as a hostile client would.
		ccfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &client.TLS, nil }
	}
	c := tls.Client(cc, ccfg)
	var res result
	if err := c.HandshakeContext(ctx); err == nil {
		res.serverCN = c.ConnectionState().PeerCertificates[0].Subject.CommonName
		// In TLS 1.3 the client finishes before the server has judged its
		// certificate; reading takes the server's alert (or its close) off
		// the unbuffered pipe so the server is never left blocked.
		_, _ = c.Read(make([]byte, 1))
	}
	cc.Close()
	out := <-done
	res.chains, res.serverErr = out.chains, out.err
	return res
}

type bundle struct {
	f        *files
	serverCA *certtest.CA
	clientCA *certtest.CA
	reloader *tlsreload.Reloader
}

func setup(t *testing.T, mode string) *bundle {
	t.Helper()
	b := &bundle{f: newFiles(t), serverCA: certtest.NewCA(t, "server-ca"), clientCA: certtest.NewCA(t, "client-ca")}
	b.f.serve(t, b.serverCA.Issue(t, certtest.Options{CN: "broker-1", DNS: []string{"broker.test"}, Server: true}))
	b.f.write(t, b.f.ca, b.clientCA.CertPEM)
	r, err := tlsreload.New(tlsreload.Config{CertFile: b.f.cert, KeyFile: b.f.key, ClientCAFile: b.f.ca, ClientAuth: mode})
	if err != nil {
		t.Fatal(err)
	}
	b.reloader = r
	return b
}

func TestClientCertificates(t *testing.T) {
	t.Parallel()
	b := setup(t, tlsreload.ClientAuthRequest)
	otherCA := certtest.NewCA(t, "other-ca")
	tests := []struct {
		name       string
		client     *certtest.Leaf
		wantErr    string
		wantSubj   string
		wantNoCert bool
	}{
		{name: "valid", client: b.clientCA.Issue(t, certtest.Options{URIs: []string{"spiffe://example.org/runner"}}), wantSubj: "spiffe://example.org/runner"},
		{name: "expired", client: b.clientCA.Issue(t, certtest.Options{CN: "old", NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)}), wantErr: "expired"},
		{name: "untrusted ca", client: otherCA.Issue(t, certtest.Options{CN: "stranger"}), wantErr: "unknown authority"},
		{name: "no certificate is allowed in request mode", wantNoCert: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			res := handshake(t, b.reloader.TLSConfig(), b.serverCA, tt.client)
			if tt.wantErr != "" {
				if res.serverErr == nil || !strings.Contains(res.serverErr.Error(), tt.wantErr) {
					t.Fatalf("server error = %v, want %q", res.serverErr, tt.wantErr)
				}
				return
			}
			if res.serverErr != nil {
				t.Fatal(res.serverErr)
			}
			if tt.wantNoCert {
				if len(res.chains) != 0 {
					t.Fatalf("verified chains = %d", len(res.chains))
				}
				return
			}
			id, err := mtlsauth.New(nil).Authenticate(context.Background(), auth.Credentials{PeerCertificates: res.chains[0]})
			if err != nil {
				t.Fatal(err)
			}
			if id.Subject != tt.wantSubj {
				t.Errorf("subject = %q, want %q", id.Subject, tt.wantSubj)
			}
		})
	}
}

func TestRequireMode(t *testing.T) {
	t.Parallel()
	b := setup(t, tlsreload.ClientAuthRequire)
	if res := handshake(t, b.reloader.TLSConfig(), b.serverCA, nil); res.serverErr == nil {
		t.Fatal("handshake without a client certificate succeeded in require mode")
	}
}

func TestReloadAfterRotation(t *testing.T) {
	t.Parallel()
	b := setup(t, tlsreload.ClientAuthRequest)
	cfg := b.reloader.TLSConfig()
	if got := handshake(t, cfg, b.serverCA, nil).serverCN; got != "broker-1" {
		t.Fatalf("served %q, want broker-1", got)
	}

	// Rotate the serving certificate: the next handshake picks it up.
	b.f.serve(t, b.serverCA.Issue(t, certtest.Options{CN: "broker-2", DNS: []string{"broker.test"}, Server: true}))
	if got := handshake(t, cfg, b.serverCA, nil).serverCN; got != "broker-2" {
		t.Fatalf("after rotation served %q, want broker-2", got)
	}

	// Rotate the client CA: clients of the new CA are accepted, the old
	// CA's are not.
	newCA := certtest.NewCA(t, "client-ca-2")
	oldClient := b.clientCA.Issue(t, certtest.Options{CN: "old-client"})
	newClient := newCA.Issue(t, certtest.Options{CN: "new-client"})
	if res := handshake(t, cfg, b.serverCA, newClient); res.serverErr == nil {
		t.Fatal("client of the not-yet-trusted CA accepted")
	}
	b.f.write(t, b.f.ca, newCA.CertPEM)
	if res := handshake(t, cfg, b.serverCA, newClient); res.serverErr != nil {
		t.Fatalf("client of the new CA: %v", res.serverErr)
	}
	if res := handshake(t, cfg, b.serverCA, oldClient); res.serverErr == nil {
		t.Fatal("client of the retired CA still accepted")
	}
}

func TestBrokenRotationKeepsServing(t *testing.T) {
	t.Parallel()
	b := setup(t, tlsreload.ClientAuthNone)
	cfg := b.reloader.TLSConfig()
	// Half a rotation: a new certificate whose key has not been written.
	next := b.serverCA.Issue(t, certtest.Options{CN: "broker-2", DNS: []string{"broker.test"}, Server: true})
	b.f.write(t, b.f.cert, next.CertPEM)
	if got := handshake(t, cfg, b.serverCA, nil).serverCN; got != "broker-1" {
		t.Fatalf("served %q during a broken rotation, want broker-1", got)
	}
	if err := b.reloader.Reload(); err == nil {
		t.Fatal("Reload accepted a certificate with the wrong key")
	}
	// The key arrives; the rotation completes.
	b.f.write(t, b.f.key, next.KeyPEM)
	if got := handshake(t, cfg, b.serverCA, nil).serverCN; got != "broker-2" {
		t.Fatalf("served %q after the key arrived, want broker-2", got)
	}
}

func TestExplicitReload(t *testing.T) {
	t.Parallel()
	b := setup(t, tlsreload.ClientAuthNone)
	next := b.serverCA.Issue(t, certtest.Options{CN: "broker-2", DNS: []string{"broker.test"}, Server: true})
	b.f.serve(t, next)
	if err := b.reloader.Reload(); err != nil {
		t.Fatal(err)
	}
	if got := handshake(t, b.reloader.TLSConfig(), b.serverCA, nil).serverCN; got != "broker-2" {
		t.Fatalf("served %q, want broker-2", got)
	}
}

func TestNewRejects(t *testing.T) {
	t.Parallel()
	f := newFiles(t)
	ca := certtest.NewCA(t, "ca")
	f.serve(t, ca.Issue(t, certtest.Options{CN: "x", Server: true}))
	f.write(t, f.ca, []byte("not pem"))
	tests := map[string]tlsreload.Config{
		"missing files":      {CertFile: filepath.Join(f.dir, "nope.crt"), KeyFile: f.key},
		"unknown mode":       {CertFile: f.cert, KeyFile: f.key, ClientAuth: "sometimes"},
		"mode without ca":    {CertFile: f.cert, KeyFile: f.key, ClientAuth: tlsreload.ClientAuthRequire},
		"ca file not pem":    {CertFile: f.cert, KeyFile: f.key, ClientAuth: tlsreload.ClientAuthRequire, ClientCAFile: f.ca},
		"key for other cert": {CertFile: f.cert, KeyFile: f.ca},
	}
	for name, cfg := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if _, err := tlsreload.New(cfg); err == nil {
				t.Fatal("New accepted the config")
			}
		})
	}
	var pe *os.PathError
	if _, err := tlsreload.New(tests["missing files"]); !errors.As(err, &pe) {
		t.Errorf("missing file error = %v, want a PathError", err)
	}
}
