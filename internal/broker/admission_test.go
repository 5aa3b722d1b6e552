package broker

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

var ignoreAuditID = cmpopts.IgnoreFields(store.AuditEvent{}, "ID")

func TestIssueAdmitted(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		id      *auth.Identity
		purpose string
		rule    string
		// ttl and max are the lease's expiry and hard maximum after issue.
		ttl, max time.Duration
	}{
		{"api key", alice, purposeNC, "api_keys", defaultTTL, maxTTL},
		{"subject", carol, purposeNC, "subjects", defaultTTL, maxTTL},
		{"CEL rule with a lower cap", ci, purposeNC, "ci-main", ruleCap, ruleCap},
		{"CEL rule with a cap above the purpose's", wide, purposeNC, "wide-rule", defaultTTL, maxTTL},
		{"legacy upstream", alice, purposeLegacy, "api_keys", defaultTTL, maxTTL},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			now := b.clock.Now()

			resp, err := b.svc.IssueToken(as(t, tt.id), &ztbrokerv1.IssueTokenRequest{
				Purpose: tt.purpose, Labels: map[string]string{"job": "deploy"},
			})
			if err != nil {
				t.Fatalf("IssueToken: %v", err)
			}
			l := resp.GetLease()
			type leaseView struct {
				Purpose, Owner, Hash string
				State                ztbrokerv1.Lease_State
				Issue, Expire, Max   time.Time
				Labels               map[string]string
			}
			want := leaseView{
				Purpose: tt.purpose, Owner: tt.id.Owner(), Hash: lease.HashToken(resp.GetToken()),
				State: ztbrokerv1.Lease_STATE_ACTIVE,
				Issue: now, Expire: now.Add(tt.ttl), Max: now.Add(tt.max),
				Labels: map[string]string{"job": "deploy"},
			}
			got := leaseView{
				Purpose: l.GetPurpose(), Owner: l.GetOwner(), Hash: l.GetTokenSha256(), State: l.GetState(),
				Issue: l.GetIssueTime().AsTime(), Expire: l.GetExpireTime().AsTime(), Max: l.GetMaxExpireTime().AsTime(),
				Labels: l.GetLabels(),
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("lease (-want +got):\n%s", diff)
			}
			if resp.GetReplayed() {
				t.Error("a first issue says it was replayed")
			}

			// What the store keeps matches what the caller was told.
			stored := b.lease(t, l.GetId())
			if diff := cmp.Diff(l, leaseToProto(stored), protocmp.Transform()); diff != "" {
				t.Errorf("stored lease differs from the response (-resp +stored):\n%s", diff)
			}

			// Exactly one token exists upstream, under the lease's name,
			// and it is the one the caller got.
			issuer, _ := b.cfg.Purposes.Get(tt.purpose)
			wantTok := []upstreamToken{{
				Kind: issuer.Issuer.Kind(), Name: lease.UpstreamNameFor(namePrefix, tt.purpose, l.GetId()),
				SHA256: l.GetTokenSha256(), Alive: true,
			}}
			if diff := cmp.Diff(wantTok, b.tokens()); diff != "" {
				t.Errorf("upstream tokens (-want +got):\n%s", diff)
			}
			if code := b.emu.TryToken(t.Context(), resp.GetAuthScheme(), resp.GetToken()); code != http.StatusOK {
				t.Errorf("the minted token does not work upstream: HTTP %d", code)
			}
			if resp.GetApiBaseUrl() != issuer.Issuer.APIBaseURL() || resp.GetAuthScheme() != issuer.Issuer.AuthScheme() {
				t.Errorf("api base %q scheme %q, want %q %q", resp.GetApiBaseUrl(), resp.GetAuthScheme(),
					issuer.Issuer.APIBaseURL(), issuer.Issuer.AuthScheme())
			}

			// The admitting rule is audited with the token's hash.
			wantAudit := []*store.AuditEvent{{
				Time: now, Action: ActionIssue, ActorKind: tt.id.Kind, ActorSubject: tt.id.Subject,
				ActorClaims: claimStrings(tt.id), Purpose: tt.purpose, LeaseID: l.GetId(),
				Result: "ok", Reason: "admitted by " + tt.rule, TokenSHA256: l.GetTokenSha256(),
				Upstream: issuer.Issuer.Upstream(),
			}}
			if diff := cmp.Diff(wantAudit, b.audit(t), ignoreAuditID); diff != "" {
				t.Errorf("audit (-want +got):\n%s", diff)
			}
			// The revoker learns when the lease falls due.
			if diff := cmp.Diff([]time.Time{now.Add(tt.ttl)}, b.revoker.Nudges()); diff != "" {
				t.Errorf("nudges (-want +got):\n%s", diff)
			}
		})
	}
}

// TestIssueNewCentralExpiry checks the upstream key outlives the lease's
// hard maximum by the skew, so the backstop never cuts a lease short.
func TestIssueNewCentralExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	now := b.clock.Now()
	resp, err := b.svc.IssueToken(as(t, ci), &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC})
	if err != nil {
		t.Fatal(err)
	}
	want := now.Add(ruleCap + expirySkew)
	if got := b.lease(t, resp.GetLease().GetId()).UpstreamExpireTime; !got.Equal(want) {
		t.Errorf("lease upstream expiry %v, want %v", got, want)
	}
	keys := b.emu.Tokens().ServiceAccounts[0].Keys[1:] // after the admin key
	if len(keys) != 1 || !keys[0].Expires.Equal(want) {
		t.Errorf("upstream keys %+v, want one expiring at %v", keys, want)
	}
}

func TestIssueRefused(t *testing.T) {
	t.Parallel()
	longName := strings.Repeat("p", 100)
	tests := []struct {
		name    string
		ctx     func(t *testing.T) context.Context
		purpose string
		code    codes.Code
		msg     string
		// audit is the trail the refusal leaves.
		audit []*store.AuditEvent
	}{
		{
			name: "no rule admits", ctx: func(t *testing.T) context.Context { return as(t, bob) }, purpose: purposeNC,
			code: codes.PermissionDenied, msg: `no rule of purpose "netops" admits caller "api_key:bob"`,
			audit: []*store.AuditEvent{{
				Action: ActionDeny, ActorKind: auth.KindAPIKey, ActorSubject: "bob", Purpose: purposeNC,
				Result: "denied", Reason: "no rule admitted the caller to issue", Upstream: lease.UpstreamNewCentral,
			}},
		},
		{
			name: "claims no rule matches", purpose: purposeNC,
			ctx: func(t *testing.T) context.Context {
				return as(t, &auth.Identity{Kind: auth.KindOIDC, Subject: "repo:acme/other", Claims: map[string]any{"repo": "acme/other"}})
			},
			code: codes.PermissionDenied, msg: `no rule of purpose "netops" admits caller "oidc:repo:acme/other"`,
			audit: []*store.AuditEvent{{
				Action: ActionDeny, ActorKind: auth.KindOIDC, ActorSubject: "repo:acme/other",
				ActorClaims: map[string]string{"repo": "acme/other"}, Purpose: purposeNC,
				Result: "denied", Reason: "no rule admitted the caller to issue", Upstream: lease.UpstreamNewCentral,
			}},
		},
		{
			name: "admin role admits nothing", ctx: func(t *testing.T) context.Context { return as(t, root) }, purpose: purposeNC,
			code: codes.PermissionDenied, msg: `no rule of purpose "netops" admits caller "api_key:root"`,
			audit: []*store.AuditEvent{{
				Action: ActionDeny, ActorKind: auth.KindAPIKey, ActorSubject: "root", Purpose: purposeNC,
				Result: "denied", Reason: "no rule admitted the caller to issue", Upstream: lease.UpstreamNewCentral,
			}},
		},
		{
			name: "subject of another purpose", ctx: func(t *testing.T) context.Context { return as(t, carol) }, purpose: purposeLegacy,
			code: codes.PermissionDenied, msg: `no rule of purpose "legacy-ops" admits caller "oidc:carol"`,
			audit: []*store.AuditEvent{{
				Action: ActionDeny, ActorKind: auth.KindOIDC, ActorSubject: "carol", Purpose: purposeLegacy,
				Result: "denied", Reason: "no rule admitted the caller to issue", Upstream: lease.UpstreamLegacy,
			}},
		},
		{
			name: "unknown purpose", ctx: func(t *testing.T) context.Context { return as(t, alice) }, purpose: "nope",
			code: codes.NotFound, msg: `purpose "nope" does not exist`,
		},
		{
			name: "unknown purpose, long name", ctx: func(t *testing.T) context.Context { return as(t, alice) }, purpose: longName,
			code: codes.NotFound, msg: `purpose "` + longName[:70] + `…" does not exist`,
		},
		{
			name: "no identity", ctx: func(t *testing.T) context.Context { return t.Context() }, purpose: purposeNC,
			code: codes.Unauthenticated, msg: "missing or invalid credentials",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			_, err := b.svc.IssueToken(tt.ctx(t), &ztbrokerv1.IssueTokenRequest{Purpose: tt.purpose})
			wantStatus(t, err, tt.code, tt.msg)
			for _, s := range policyInternals {
				if strings.Contains(gotStatus(err).Msg, s) {
					t.Errorf("message %q reveals the policy (%q)", gotStatus(err).Msg, s)
				}
			}
			for _, e := range tt.audit {
				e.Time = b.clock.Now()
			}
			if diff := cmp.Diff(tt.audit, b.audit(t), ignoreAuditID, cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("audit (-want +got):\n%s", diff)
			}
			if ls := b.leases(t); len(ls) != 0 {
				t.Errorf("a refused request wrote %d leases", len(ls))
			}
			if toks := b.tokens(); len(toks) != 0 {
				t.Errorf("a refused request minted %d tokens upstream", len(toks))
			}
		})
	}
}

func claimStrings(id *auth.Identity) map[string]string {
	if len(id.Claims) == 0 {
		return nil
	}
	out := map[string]string{}
	for k, v := range id.Claims {
		out[k] = v.(string)
	}
	return out
}
