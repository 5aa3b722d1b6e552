package mtlsauth

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/url"
	"time"

	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/errs"
)

// Authenticator turns a verified client chain into an Identity.
type Authenticator struct {
	now func() time.Time
}

var _ auth.Authenticator = (*Authenticator)(nil)

// New returns an Authenticator. now defaults to time.Now.
func New(now func() time.Time) *Authenticator {
	if now == nil {
		now = time.Now
	}
	return &Authenticator{now: now}
}

// Authenticate implements auth.Authenticator. c.PeerCertificates must be
// a chain the TLS layer verified, leaf first.
func (a *Authenticator) Authenticate(_ context.Context, c auth.Credentials) (*auth.Identity, error) {
	if len(c.PeerCertificates) == 0 {
		return nil, auth.ErrNoCredentials
	}
	leaf := c.PeerCertificates[0]
	now := a.now()
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("client certificate (serial %s) is outside its validity period: %w", leaf.SerialNumber.Text(16), errs.Unauthenticated)
	}
	spiffeID, err := spiffeIDOf(leaf)
	if err != nil {
		return nil, err
	}
	subject := spiffeID
	if subject == "" {
		subject = leaf.Subject.CommonName
	}
	if subject == "" {
		return nil, fmt.Errorf("client certificate has neither a SPIFFE ID nor a common name: %w", errs.Unauthenticated)
	}
	return &auth.Identity{Kind: auth.KindMTLS, Subject: subject, Claims: claimsOf(leaf, spiffeID)}, nil
}

// spiffeIDOf returns the leaf's SPIFFE ID. The SPIFFE X.509-SVID spec
// allows exactly one; a certificate with several is ambiguous and refused.
func spiffeIDOf(leaf *x509.Certificate) (string, error) {
	var id string
	for _, u := range leaf.URIs {
		if u.Scheme != "spiffe" {
			continue
		}
		if id != "" {
			return "", fmt.Errorf("client certificate has more than one SPIFFE ID: %w", errs.Unauthenticated)
		}
		if err := checkSPIFFE(u); err != nil {
			return "", err
		}
		id = u.String()
	}
	return id, nil
}

func checkSPIFFE(u *url.URL) error {
	if u.Host == "" || u.User != nil || u.Port() != "" || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("client certificate has a malformed SPIFFE ID: %w", errs.Unauthenticated)
	}
	return nil
}

// claimsOf exposes certificate facts to policy rules, in CEL-friendly
// types.
func claimsOf(leaf *x509.Certificate, spiffeID string) map[string]any {
	dns := make([]any, len(leaf.DNSNames))
	for i, d := range leaf.DNSNames {
		dns[i] = d
	}
	uris := make([]any, len(leaf.URIs))
	for i, u := range leaf.URIs {
		uris[i] = u.String()
	}
	ous := make([]any, len(leaf.Subject.OrganizationalUnit))
	for i, o := range leaf.Subject.OrganizationalUnit {
		ous[i] = o
	}
	claims := map[string]any{
		"common_name":         leaf.Subject.CommonName,
		"organizational_unit": ous,
		"dns_names":           dns,
		"uris":                uris,
		"serial":              leaf.SerialNumber.Text(16),
		"issuer":              leaf.Issuer.CommonName,
		"not_after":           leaf.NotAfter.UTC().Format(time.RFC3339),
	}
	if spiffeID != "" {
		claims["spiffe_id"] = spiffeID
	}
	return claims
}
