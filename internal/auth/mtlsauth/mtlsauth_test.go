package mtlsauth_test

import (
	"context"
	"crypto/x509"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/auth/mtlsauth"
	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/testing/certtest"
)

func TestAuthenticate(t *testing.T) {
	t.Parallel()
	ca := certtest.NewCA(t, "clients")
	now := time.Now()
	spiffe := ca.Issue(t, certtest.Options{CN: "runner", URIs: []string{"https://example.org/x", "spiffe://example.org/ns/ops/sa/runner"}, DNS: []string{"runner.ops"}})
	cnOnly := ca.Issue(t, certtest.Options{CN: "legacy-svc"})
	twoIDs := ca.Issue(t, certtest.Options{CN: "x", URIs: []string{"spiffe://a.org/x", "spiffe://b.org/y"}})
	badID := ca.Issue(t, certtest.Options{CN: "x", URIs: []string{"spiffe://a.org:8443/x"}})
	anonymous := ca.Issue(t, certtest.Options{})
	cnSPIFFE := ca.Issue(t, certtest.Options{CN: "spiffe://example.org/admin"})
	cnURN := ca.Issue(t, certtest.Options{CN: "urn:example:admin"})
	cnControl := ca.Issue(t, certtest.Options{CN: "svc\x1b[2J"})
	expiring := ca.Issue(t, certtest.Options{CN: "short", NotAfter: now.Add(time.Minute)})

	tests := []struct {
		name        string
		chain       []*x509.Certificate
		at          time.Time
		wantSubject string
		wantErr     error
	}{
		{name: "spiffe id wins over cn", chain: []*x509.Certificate{spiffe.Cert, ca.Cert}, wantSubject: "spiffe://example.org/ns/ops/sa/runner"},
		{name: "cn fallback in its own namespace", chain: []*x509.Certificate{cnOnly.Cert}, wantSubject: "cn:legacy-svc"},
		{name: "cn that is a spiffe id", chain: []*x509.Certificate{cnSPIFFE.Cert}, wantErr: errs.Unauthenticated},
		{name: "cn that is a urn", chain: []*x509.Certificate{cnURN.Cert}, wantErr: errs.Unauthenticated},
		{name: "cn with control characters", chain: []*x509.Certificate{cnControl.Cert}, wantErr: errs.Unauthenticated},
		{name: "two spiffe ids", chain: []*x509.Certificate{twoIDs.Cert}, wantErr: errs.Unauthenticated},
		{name: "spiffe id with port", chain: []*x509.Certificate{badID.Cert}, wantErr: errs.Unauthenticated},
		{name: "no name at all", chain: []*x509.Certificate{anonymous.Cert}, wantErr: errs.Unauthenticated},
		{name: "expired since the handshake", chain: []*x509.Certificate{expiring.Cert}, at: now.Add(2 * time.Minute), wantErr: errs.Unauthenticated},
		{name: "not yet valid", chain: []*x509.Certificate{cnOnly.Cert}, at: now.Add(-2 * time.Hour), wantErr: errs.Unauthenticated},
		{name: "no certificate", wantErr: auth.ErrNoCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			at := tt.at
			if at.IsZero() {
				at = now
			}
			a := mtlsauth.New(func() time.Time { return at })
			id, err := a.Authenticate(context.Background(), auth.Credentials{PeerCertificates: tt.chain})
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if id.Kind != auth.KindMTLS || id.Subject != tt.wantSubject {
				t.Errorf("identity = %s, want mtls:%s", id.Owner(), tt.wantSubject)
			}
		})
	}
}

func TestClaims(t *testing.T) {
	t.Parallel()
	ca := certtest.NewCA(t, "clients")
	leaf := ca.Issue(t, certtest.Options{CN: "runner", URIs: []string{"spiffe://example.org/runner"}, DNS: []string{"runner.ops"}})
	id, err := mtlsauth.New(nil).Authenticate(context.Background(), auth.Credentials{PeerCertificates: []*x509.Certificate{leaf.Cert}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"common_name":         "runner",
		"organizational_unit": []any{},
		"dns_names":           []any{"runner.ops"},
		"uris":                []any{"spiffe://example.org/runner"},
		"serial":              leaf.Cert.SerialNumber.Text(16),
		"issuer":              "clients",
		"not_after":           leaf.Cert.NotAfter.UTC().Format(time.RFC3339),
		"spiffe_id":           "spiffe://example.org/runner",
	}
	if diff := cmp.Diff(want, id.Claims); diff != "" {
		t.Errorf("claims (-want +got):\n%s", diff)
	}
}
