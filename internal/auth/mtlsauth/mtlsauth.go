package mtlsauth

import (
	"context"
	"crypto/x509"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode"

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
		if subject, err = cnSubject(leaf.Subject.CommonName); err != nil {
			return nil, err
		}
	}
	return &auth.Identity{Kind: auth.KindMTLS, Subject: subject, Claims: claimsOf(leaf, spiffeID)}, nil
}

// CNPrefix starts the subject of a certificate named by its common name
// alone, keeping such names apart from SPIFFE IDs.
const CNPrefix = "cn:"

// cnSubject names a certificate without a SPIFFE ID by its common name,
// in a namespace of its own: "cn:<CN>". A common name that looks like a
// URI is refused outright; whoever issued it meant it as a name it is
// not, and a CN of "spiffe://example.org/admin" must never pass for that
// SPIFFE ID.
func cnSubject(cn string) (string, error) {
	switch {
	case cn == "":
		return "", fmt.Errorf("client certificate has neither a SPIFFE ID nor a common name: %w", errs.Unauthenticated)
	case strings.ContainsFunc(cn, unicode.IsControl):
		return "", fmt.Errorf("client certificate common name holds control characters: %w", errs.Unauthenticated)
	case looksLikeURI(cn):
		return "", fmt.Errorf("client certificate common name %q is a URI; a URI identity must be a URI SAN: %w", cn, errs.Unauthenticated)
	}
	return CNPrefix + cn, nil
}

// looksLikeURI reports whether s starts with a URI scheme and a colon
// (RFC 3986 section 3.1), as "spiffe://x" and "urn:x" do.
func looksLikeURI(s string) bool {
	u, err := url.Parse(s)
	return err == nil && u.Scheme != ""
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
