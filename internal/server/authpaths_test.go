package server_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/testing/certtest"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// fullAPI adds the identity and admin calls to api.
type fullAPI interface {
	api
	whoami(ctx context.Context, key string) (*ztbrokerv1.WhoAmIResponse, error)
	revokeLeases(ctx context.Context, key string, req *ztbrokerv1.RevokeLeasesRequest) (*ztbrokerv1.RevokeLeasesResponse, error)
	audit(ctx context.Context, key string, req *ztbrokerv1.ListAuditEventsRequest) (*ztbrokerv1.ListAuditEventsResponse, error)
}

func (h *harness) fullAPIs() []fullAPI { return []fullAPI{grpcAPI{h}, restAPI{h}} }

func (g grpcAPI) whoami(ctx context.Context, key string) (*ztbrokerv1.WhoAmIResponse, error) {
	r, err := g.h.tb.WhoAmI(as(ctx, key), &ztbrokerv1.WhoAmIRequest{})
	return r, grpcErr(err)
}

func (g grpcAPI) revokeLeases(ctx context.Context, key string, req *ztbrokerv1.RevokeLeasesRequest) (*ztbrokerv1.RevokeLeasesResponse, error) {
	r, err := g.h.admin.RevokeLeases(as(ctx, key), req)
	return r, grpcErr(err)
}

func (g grpcAPI) audit(ctx context.Context, key string, req *ztbrokerv1.ListAuditEventsRequest) (*ztbrokerv1.ListAuditEventsResponse, error) {
	r, err := g.h.admin.ListAuditEvents(as(ctx, key), req)
	return r, grpcErr(err)
}

func (r restAPI) whoami(ctx context.Context, key string) (*ztbrokerv1.WhoAmIResponse, error) {
	out := &ztbrokerv1.WhoAmIResponse{}
	return out, r.h.call(ctx, http.MethodGet, "/v1/whoami", key, nil, out)
}

func (r restAPI) revokeLeases(ctx context.Context, key string, req *ztbrokerv1.RevokeLeasesRequest) (*ztbrokerv1.RevokeLeasesResponse, error) {
	out := &ztbrokerv1.RevokeLeasesResponse{}
	return out, r.h.call(ctx, http.MethodPost, "/v1/admin/leases:revoke", key, marshal(req), out)
}

func (r restAPI) audit(ctx context.Context, key string, req *ztbrokerv1.ListAuditEventsRequest) (*ztbrokerv1.ListAuditEventsResponse, error) {
	q := url.Values{}
	for k, v := range map[string]string{"purpose": req.GetPurpose(), "lease_id": req.GetLeaseId(), "actor": req.GetActor(),
		"action": req.GetAction(), "upstream": req.GetUpstream(), "page_token": req.GetPageToken()} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if req.GetPageSize() != 0 {
		q.Set("page_size", strconv.Itoa(int(req.GetPageSize())))
	}
	out := &ztbrokerv1.ListAuditEventsResponse{}
	return out, r.h.call(ctx, http.MethodGet, "/v1/admin/audit?"+q.Encode(), key, nil, out)
}

// Purposes the identity tests add.
const (
	purposeDeploy = "deploy"
	purposeMTLS   = "ci-mtls"
	runnerSPIFFE  = "spiffe://example.org/ns/ci/sa/runner"
	deployRule    = `identity.kind == "oidc" && claims.repository == "acme/infra" && claims.ref == "refs/heads/main"`
)

// deployPurpose admits OIDC callers from acme/infra's main branch only,
// for at most 10m although the purpose allows an hour.
var deployPurpose = fmt.Sprintf(`  - name: %s
    default_ttl: 5m
    max_ttl: 1h
    upstream: {kind: new_central, service_account_id: %q}
    allow:
      rules:
        - name: infra-main
          expr: '%s'
          max_ttl: 10m
`, purposeDeploy, emulator.DefaultServiceAccount, deployRule)

var mtlsPurpose = fmt.Sprintf(`  - name: %s
    upstream: {kind: new_central, service_account_id: %q}
    allow: {subjects: [%q]}
`, purposeMTLS, emulator.DefaultServiceAccount, "mtls:"+runnerSPIFFE)

// adminSPIFFE is an admin by its SPIFFE ID; a certificate whose common
// name is that ID must not become it.
const adminSPIFFE = "spiffe://example.org/admin"

// TestOIDCCredentials checks which bearer JWTs authenticate: only a
// current token for the configured audience, from the trusted issuer and
// signed by its published key.
func TestOIDCCredentials(t *testing.T) {
	t.Parallel()
	idp := newFakeIdP(t)
	h := setup(t, withYAML("", idp.authYAML(), deployPurpose))
	other := newRSAKey(t)
	now := time.Now()

	for _, a := range h.fullAPIs() {
		t.Run(a.name(), func(t *testing.T) {
			t.Parallel()
			// Its own deadline: a parallel subtest may wait a while for a slot.
			ctx := testContext(t)
			sub := "runner-" + a.name()
			got, err := a.whoami(ctx, idp.token(t, sub, nil))
			if err != nil {
				t.Fatalf("whoami with a valid token: %v", err)
			}
			want := &ztbrokerv1.WhoAmIResponse{
				Kind: "oidc", Subject: idpName + "/" + sub, Owner: "oidc:" + idpName + "/" + sub,
				// run_id is in the token but not in claims_to_keep.
				Claims: map[string]string{"iss": idp.srv.URL, "sub": sub, "repository": "acme/infra", "ref": "refs/heads/main"},
			}
			if d := cmp.Diff(want, got, protocmp.Transform()); d != "" {
				t.Errorf("whoami (-want +got):\n%s", d)
			}

			bad := []struct {
				name  string
				token string
			}{
				{"expired", idp.token(t, sub, map[string]any{
					"iat": now.Add(-2 * time.Hour).Unix(), "nbf": now.Add(-2 * time.Hour).Unix(), "exp": now.Add(-time.Hour).Unix()})},
				{"wrong audience", idp.token(t, sub, map[string]any{"aud": "someone-else"})},
				{"unknown issuer", idp.token(t, sub, map[string]any{"iss": "https://issuer.example.org"})},
				{"alg none", unsignedToken(t, idp.claims(sub, nil))},
				{"other key, published kid", signRS256(t, other, idp.kid, idp.claims(sub, nil))},
				{"other key, unknown kid", signRS256(t, other, "k2", idp.claims(sub, nil))},
				{"no exp", idp.token(t, sub, map[string]any{"exp": nil})},
				{"exp in 2^40 seconds", idp.token(t, sub, map[string]any{"exp": int64(1) << 40, "iat": nil})},
				{"lives 25h", idp.token(t, sub, map[string]any{"exp": now.Add(25 * time.Hour).Unix()})},
				{"control character in sub", idp.token(t, sub+"\x00", nil)},
			}
			for _, tt := range bad {
				_, err := a.whoami(ctx, tt.token)
				if err == nil {
					t.Errorf("%s: whoami succeeded", tt.name)
					continue
				}
				ae := wantErrNoFatal(t, tt.name, err, codes.Unauthenticated, http.StatusUnauthorized)
				if ae != nil && ae.Msg != "missing or invalid credentials" {
					t.Errorf("%s: message %q says more than the fixed text", tt.name, ae.Msg)
				}
				if _, err := a.issue(ctx, tt.token, &ztbrokerv1.IssueTokenRequest{Purpose: purposeDeploy}); err == nil {
					t.Errorf("%s: issue succeeded", tt.name)
				} else {
					wantErrNoFatal(t, tt.name+" issue", err, codes.Unauthenticated, http.StatusUnauthorized)
				}
			}
		})
	}
}

// wantErrNoFatal is wantErr for table loops: it reports and returns nil
// instead of stopping the test.
func wantErrNoFatal(t *testing.T, what string, err error, code codes.Code, httpStatus int) *apiError {
	t.Helper()
	var ae *apiError
	if !errors.As(err, &ae) {
		t.Errorf("%s: got error %v, want %s", what, err, code)
		return nil
	}
	if ae.Code != code || (ae.HTTP != 0 && ae.HTTP != httpStatus) {
		t.Errorf("%s: got %v, want %s (HTTP %d)", what, ae, code, httpStatus)
		return nil
	}
	return ae
}

// TestMTLSCredentials runs the broker on TLS asking for (not requiring)
// client certificates: a certificate from the configured CA identifies
// the caller by its SPIFFE ID or CN; any other certificate gets nowhere.
func TestMTLSCredentials(t *testing.T) {
	t.Parallel()
	pki := newTLSPKI(t)
	h := setup(t, append(pki.options(), withYAML("", "", mtlsPurpose), withAdmins("mtls:"+adminSPIFFE))...)
	if !h.srv.TLS() {
		t.Fatal("server is not serving TLS")
	}
	runner := pki.ca.Issue(t, certtest.Options{CN: "runner", URIs: []string{runnerSPIFFE}})
	cnOnly := pki.ca.Issue(t, certtest.Options{CN: "build-agent-7"})
	expired := pki.ca.Issue(t, certtest.Options{URIs: []string{runnerSPIFFE},
		NotBefore: time.Now().Add(-2 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	rogue := certtest.NewCA(t, "rogue CA").Issue(t, certtest.Options{CN: "runner", URIs: []string{runnerSPIFFE}})
	cnAdmin := pki.ca.Issue(t, certtest.Options{CN: adminSPIFFE})
	cnRunner := pki.ca.Issue(t, certtest.Options{CN: runnerSPIFFE})

	asRunner, asCN := h.withCert(t, &runner.TLS), h.withCert(t, &cnOnly.TLS)
	asCNAdmin, asCNRunner := h.withCert(t, &cnAdmin.TLS), h.withCert(t, &cnRunner.TLS)
	asExpired, asRogue := h.withCert(t, &expired.TLS), h.withCert(t, &rogue.TLS)
	for i, a := range asRunner.fullAPIs() {
		t.Run(a.name(), func(t *testing.T) {
			t.Parallel()
			// Its own deadline: a parallel subtest may wait a while for a slot.
			ctx := testContext(t)
			who, err := a.whoami(ctx, "")
			if err != nil {
				t.Fatalf("whoami with the runner certificate: %v", err)
			}
			if who.GetKind() != "mtls" || who.GetSubject() != runnerSPIFFE || who.GetClaims()["spiffe_id"] != runnerSPIFFE {
				t.Errorf("whoami = %v, want kind mtls, subject %s", who, runnerSPIFFE)
			}
			res, err := a.issue(ctx, "", &ztbrokerv1.IssueTokenRequest{Purpose: purposeMTLS})
			if err != nil {
				t.Fatalf("issue with the runner certificate: %v", err)
			}
			if got, want := res.GetLease().GetOwner(), "mtls:"+runnerSPIFFE; got != want {
				t.Errorf("lease owner = %q, want %q", got, want)
			}

			cn := asCN.fullAPIs()[i]
			who, err = cn.whoami(ctx, "")
			if err != nil {
				t.Fatalf("whoami with a CN-only certificate: %v", err)
			}
			if who.GetKind() != "mtls" || who.GetSubject() != "cn:build-agent-7" || who.GetOwner() != "mtls:cn:build-agent-7" {
				t.Errorf("CN-only whoami = %v, want kind mtls, subject cn:build-agent-7", who)
			}
			_, err = cn.issue(ctx, "", &ztbrokerv1.IssueTokenRequest{Purpose: purposeMTLS})
			wantErr(t, err, codes.PermissionDenied, http.StatusForbidden)

			// A common name spelled as a SPIFFE ID is refused: it is
			// neither the admin nor the runner it names.
			for name, v := range map[string]*harness{"admin": asCNAdmin, "runner": asCNRunner} {
				who, err := v.fullAPIs()[i].whoami(ctx, "")
				if err == nil {
					t.Errorf("CN %s: whoami succeeded as %v (admin %t)", name, who.GetOwner(), who.GetAdmin())
				} else {
					wantErr(t, err, codes.Unauthenticated, http.StatusUnauthorized)
				}
				_, err = v.fullAPIs()[i].revokeLeases(ctx, "", &ztbrokerv1.RevokeLeasesRequest{Filter: &ztbrokerv1.LeaseFilter{All: true}, DryRun: true})
				wantErr(t, err, codes.Unauthenticated, http.StatusUnauthorized)
				_, err = v.fullAPIs()[i].issue(ctx, "", &ztbrokerv1.IssueTokenRequest{Purpose: purposeMTLS})
				wantErr(t, err, codes.Unauthenticated, http.StatusUnauthorized)
			}

			// An API key still works over TLS, without a certificate.
			if _, err := h.fullAPIs()[i].issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC}); err != nil {
				t.Errorf("api key over TLS: %v", err)
			}
			// Asking for a certificate does not make one necessary, but
			// nothing at all is still no credential.
			_, err = h.fullAPIs()[i].whoami(ctx, "")
			wantErr(t, err, codes.Unauthenticated, http.StatusUnauthorized)

			for name, v := range map[string]*harness{"expired": asExpired, "untrusted CA": asRogue} {
				who, err := v.fullAPIs()[i].whoami(ctx, "")
				if err == nil {
					t.Errorf("%s certificate: whoami succeeded as %v", name, who)
					continue
				}
				// The handshake fails (a transport error), or the call is
				// refused; either way no identity.
				var ae *apiError
				if errors.As(err, &ae) && ae.Code != codes.Unauthenticated && ae.Code != codes.Unavailable {
					t.Errorf("%s certificate: got %v, want a handshake failure or UNAUTHENTICATED", name, ae)
				}
				if _, err := v.fullAPIs()[i].issue(ctx, "", &ztbrokerv1.IssueTokenRequest{Purpose: purposeMTLS}); err == nil {
					t.Errorf("%s certificate: issue succeeded", name)
				}
			}
		})
	}
	t.Cleanup(func() {
		if n := h.activeLeases(t, purposeMTLS); n != 2 {
			t.Errorf("%d live %s leases, want the runner's 2", n, purposeMTLS)
		}
	})
}

// issueWith asks for a lease of purpose with a TTL; zero means the
// default.
func issueWith(purpose string, ttl time.Duration, labels map[string]string) *ztbrokerv1.IssueTokenRequest {
	r := &ztbrokerv1.IssueTokenRequest{Purpose: purpose, Labels: labels}
	if ttl > 0 {
		r.Ttl = durationpb.New(ttl)
	}
	return r
}
