package clientcmd

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"strings"

	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
)

// transportCreds decides how the connection is protected. TLS flags mean
// TLS; otherwise a loopback or unix-socket address, or an explicit
// --insecure, gets plaintext, and anything else gets TLS against the system
// roots, so a bearer credential never crosses a network unencrypted by
// default.
func transportCreds(cfg connConfig) (credentials.TransportCredentials, error) {
	if cfg.tlsCA == "" && cfg.tlsCert == "" && (cfg.insecure || isLocal(cfg.addr)) {
		return insecure.NewCredentials(), nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.tlsCA != "" {
		pem, err := os.ReadFile(cfg.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("read --tls-ca: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, usagef("--tls-ca %s holds no PEM certificate", cfg.tlsCA)
		}
	}
	if cfg.tlsCert != "" {
		// Fail now on a bad pair rather than at the first handshake.
		if _, err := tls.LoadX509KeyPair(cfg.tlsCert, cfg.tlsKey); err != nil {
			return nil, fmt.Errorf("load --tls-cert/--tls-key: %w", err)
		}
		// Reloaded per handshake: a long `exec` outlives short-lived
		// certificates that an agent rewrites in place.
		certFile, keyFile := cfg.tlsCert, cfg.tlsKey
		tc.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
			c, err := tls.LoadX509KeyPair(certFile, keyFile)
			if err != nil {
				return nil, err
			}
			return &c, nil
		}
	}
	return credentials.NewTLS(tc), nil
}

// isLocal reports whether addr stays on this host.
func isLocal(addr string) bool {
	if strings.HasPrefix(addr, "unix:") || strings.HasPrefix(addr, "unix-abstract:") {
		return true
	}
	if i := strings.Index(addr, ":///"); i >= 0 {
		addr = addr[i+len(":///"):]
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = addr
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
