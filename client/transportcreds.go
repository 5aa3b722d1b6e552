package client

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

// transportCreds decides how the connection is protected. TLS options mean
// TLS; otherwise a loopback or unix-socket address, or WithInsecure, gets
// plaintext, and anything else gets TLS against the system roots, so a
// bearer credential never crosses a network unencrypted by default.
func transportCreds(o *options, addr string) (credentials.TransportCredentials, error) {
	if o.tlsConfig != nil {
		return credentials.NewTLS(o.tlsConfig), nil
	}
	if o.tlsCA == "" && o.tlsCert == "" && (o.insecure || isLocal(addr)) {
		return insecure.NewCredentials(), nil
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.tlsCA != "" {
		pem, err := os.ReadFile(o.tlsCA)
		if err != nil {
			return nil, fmt.Errorf("read TLS CA file: %w", err)
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TLS CA file %s holds no PEM certificate", o.tlsCA)
		}
	}
	if o.tlsCert != "" {
		// Fail now on a bad pair rather than at the first handshake.
		if _, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey); err != nil {
			return nil, fmt.Errorf("load client certificate and key: %w", err)
		}
		certFile, keyFile := o.tlsCert, o.tlsKey
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
