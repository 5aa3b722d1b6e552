package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/testing/certtest"
)

// tlsPKI is the certificate material of a broker serving TLS that asks
// for client certificates: one CA signs the server and trusted clients.
type tlsPKI struct {
	ca *certtest.CA
	// Files the broker's listen.tls section names.
	certFile, keyFile, caFile string
}

func newTLSPKI(t *testing.T) *tlsPKI {
	t.Helper()
	p := &tlsPKI{ca: certtest.NewCA(t, "ztbroker test CA")}
	dir := t.TempDir()
	certPEM, keyPEM := serverCert(t, p.ca)
	p.certFile = writeFile(t, dir, "server.crt", certPEM)
	p.keyFile = writeFile(t, dir, "server.key", keyPEM)
	p.caFile = writeFile(t, dir, "ca.crt", p.ca.CertPEM)
	return p
}

// options configure a broker that serves TLS, verifies client
// certificates when sent, and authenticates callers by them.
func (p *tlsPKI) options() []option {
	listen := fmt.Sprintf("  tls:\n    cert_file: %q\n    key_file: %q\n    client_ca_file: %q\n    client_auth: request\n",
		p.certFile, p.keyFile, p.caFile)
	return []option{
		withYAML(listen, "  mtls: {enabled: true}\n", ""),
		withClientTLS(&tls.Config{RootCAs: p.ca.Pool(), MinVersion: tls.VersionTLS12}),
	}
}

// serverCert is a serving certificate for every name a test dials: the
// listeners bind 127.0.0.1 and localhost, which may resolve to ::1.
// certtest leaves have no IP SANs, hence this one is made here.
func serverCert(t *testing.T, ca *certtest.CA) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, ca.Key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// withCert returns a view of h whose clients present cert. Both
// transports of the view dial fresh connections.
func (h *harness) withCert(t *testing.T, cert *tls.Certificate) *harness {
	t.Helper()
	c := h.clientTLS.Clone()
	// Always sent: given plain Certificates, Go's client withholds one
	// the server's CA list does not name, and a forged certificate would
	// never reach the server's verification.
	c.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	v := *h
	v.dial(t, c)
	return &v
}
