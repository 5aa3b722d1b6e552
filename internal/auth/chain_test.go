package auth_test

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/errs"
)

// fakeAuthn answers for one credential shape and records what it saw.
type fakeAuthn struct {
	bearer string // accepted bearer; "" means bearers are not its kind
	certCN string // accepted leaf CN; "" means certs are not its kind
	kind   string
	err    error // returned instead of an identity when set
}

func (f *fakeAuthn) Authenticate(_ context.Context, c auth.Credentials) (*auth.Identity, error) {
	if c.Bearer != "" && len(c.PeerCertificates) > 0 {
		return nil, fmt.Errorf("chain passed both credentials at once")
	}
	switch {
	case c.Bearer != "" && f.bearer != "":
		if f.err != nil {
			if c.Bearer != f.bearer {
				return nil, auth.ErrNoCredentials
			}
			return nil, f.err
		}
		if c.Bearer != f.bearer {
			return nil, fmt.Errorf("bad bearer: %w", errs.Unauthenticated)
		}
		return &auth.Identity{Kind: f.kind, Subject: "bearer-user"}, nil
	case len(c.PeerCertificates) > 0 && f.certCN != "":
		if c.PeerCertificates[0].Subject.CommonName != f.certCN {
			return nil, fmt.Errorf("bad cert: %w", errs.Unauthenticated)
		}
		return &auth.Identity{Kind: f.kind, Subject: f.certCN}, nil
	}
	return nil, auth.ErrNoCredentials
}

func leaf(cn string) []*x509.Certificate {
	c := &x509.Certificate{}
	c.Subject.CommonName = cn
	return []*x509.Certificate{c}
}

func TestChain(t *testing.T) {
	t.Parallel()
	bearerA := &fakeAuthn{bearer: "tok", kind: auth.KindOIDC}
	certA := &fakeAuthn{certCN: "svc", kind: auth.KindMTLS}
	chain := auth.NewChain([]string{"mtls:svc"}, bearerA, certA)

	tests := []struct {
		name    string
		chain   *auth.Chain
		creds   auth.Credentials
		want    *auth.Identity
		wantErr error
	}{
		{name: "bearer", chain: chain, creds: auth.Credentials{Bearer: "tok"},
			want: &auth.Identity{Kind: auth.KindOIDC, Subject: "bearer-user"}},
		{name: "cert gets admin", chain: chain, creds: auth.Credentials{PeerCertificates: leaf("svc")},
			want: &auth.Identity{Kind: auth.KindMTLS, Subject: "svc", Admin: true}},
		{name: "bearer wins over cert", chain: chain, creds: auth.Credentials{Bearer: "tok", PeerCertificates: leaf("svc")},
			want: &auth.Identity{Kind: auth.KindOIDC, Subject: "bearer-user"}},
		{name: "bad bearer does not fall back to cert", chain: chain,
			creds: auth.Credentials{Bearer: "wrong", PeerCertificates: leaf("svc")}, wantErr: errs.Unauthenticated},
		{name: "unrecognised bearer", chain: auth.NewChain(nil, certA),
			creds: auth.Credentials{Bearer: "tok", PeerCertificates: leaf("svc")}, wantErr: errs.Unauthenticated},
		{name: "untrusted cert", chain: chain, creds: auth.Credentials{PeerCertificates: leaf("other")}, wantErr: errs.Unauthenticated},
		{name: "cert with no cert authenticator", chain: auth.NewChain(nil, bearerA),
			creds: auth.Credentials{PeerCertificates: leaf("svc")}, wantErr: errs.Unauthenticated},
		{name: "nothing presented", chain: chain, wantErr: errs.Unauthenticated},
		{name: "unavailable passes through", chain: auth.NewChain(nil, &fakeAuthn{bearer: "tok", err: errs.Unavailable}),
			creds: auth.Credentials{Bearer: "tok"}, wantErr: errs.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.chain.Authenticate(context.Background(), tt.creds)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("identity (-want +got):\n%s", diff)
			}
		})
	}
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
