package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// Proxy purposes: a CI job that may read one network and authorise (v2)
// or authorise-only update (v1) its members.
const (
	purposeScoped       = "scoped"
	purposeScopedLegacy = "scoped-legacy"
	netA                = "8056c2e21c000001"
	netB                = "8056c2e21c000002"
)

const scopedPurposes = `
  - name: scoped
    delivery: proxy
    upstream: {kind: new_central, service_account_id: sa-emulator}
    allow: {api_keys: [alice, bob]}
    scope:
      networks: ["8056c2e21c000001"]
      rules:
        - {name: read, operations: ["GET /api/v2/network", "GET /api/v2/network/{network}", "GET /api/v2/network/{network}/member"]}
        - {name: authorize, operations: ["POST /api/v2/network/{network}/member/{member}/authorize"]}
        - {name: rename, operations: ["POST /api/v2/network/{network}/member/{member}"], when: 'fields.all(f, f in ["name"])'}
  - name: scoped-legacy
    delivery: proxy
    upstream: {kind: legacy}
    allow: {api_keys: [alice, bob]}
    scope:
      networks: ["8056c2e21c000001"]
      rules:
        - {name: read, operations: ["GET /api/v1/network", "GET /api/v1/network/{network}"]}
        - {name: authorize, operations: ["POST /api/v1/network/{network}/member/{member}"], when: 'fields.all(f, f in ["config.authorized"])'}
`

func memberID(i int) string { return fmt.Sprintf("deadbeef%02x", i) }

// withScopedNetworks seeds netA and netB, each with members 00..0f, none
// authorised.
func withScopedNetworks() option {
	var ms []emulator.MemberSeed
	for i := range 16 {
		ms = append(ms, emulator.MemberSeed{ID: memberID(i)})
	}
	return withEmulator(emulator.WithNetworks(
		emulator.NetworkSeed{ID: netA, Name: "ci", Members: ms},
		emulator.NetworkSeed{ID: netB, Name: "prod", Members: ms},
	))
}

func setupScoped(t testing.TB, opts ...option) *harness {
	return setup(t, append([]option{withYAML("", "", scopedPurposes), withScopedNetworks()}, opts...)...)
}

// zt calls Central through what an IssueToken handed out: path is relative
// to api_base_url, exactly as on Central.
func (h *harness) zt(ctx context.Context, issued *ztbrokerv1.IssueTokenResponse, method, path, body string) (int, []byte) {
	status, _, b := h.ztRaw(ctx, issued.GetApiBaseUrl()+path, issued.GetAuthScheme()+" "+issued.GetToken(), method, body, nil)
	return status, b
}

func (h *harness) ztRaw(ctx context.Context, url, auth, method, body string, hdr http.Header) (int, http.Header, []byte) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		panic(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := h.hc.Do(req)
	if err != nil {
		return 0, nil, []byte(err.Error())
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func (h *harness) memberTruth(t testing.TB, network, member string) emulator.MemberTruth {
	t.Helper()
	n, ok := h.emu.Network(network)
	if !ok {
		t.Fatalf("network %s gone", network)
	}
	for _, m := range n.Members {
		if m.ID == member {
			return m
		}
	}
	t.Fatalf("member %s of %s gone", member, network)
	return emulator.MemberTruth{}
}

func message(b []byte) string {
	var m struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(b, &m)
	return m.Message
}

// scopedCalls are the acceptance calls, per API: paths relative to the
// lease's api_base_url.
type scopedCalls struct {
	purpose, scheme string
	authorize       func(network, member string) (method, path, body string)
	list            string
	listIDs         func(b []byte) []string
	escapes         []struct{ method, path, body string }
	escapeRoutes    []string
}

func scopedAPIs() []scopedCalls {
	return []scopedCalls{
		{
			purpose: purposeScoped, scheme: "Bearer",
			authorize: func(n, m string) (string, string, string) {
				return "POST", "/api/v2/network/" + n + "/member/" + m + "/authorize", ""
			},
			list: "/api/v2/network",
			listIDs: func(b []byte) []string {
				var l struct{ Items []struct{ ID string } }
				_ = json.Unmarshal(b, &l)
				var out []string
				for _, it := range l.Items {
					out = append(out, it.ID)
				}
				return out
			},
			escapes: []struct{ method, path, body string }{
				{"POST", "/api/v2/service-account/" + emulator.DefaultServiceAccount + "/api-key", `{"expires":"2099-01-01T00:00:00Z","description":"escape"}`},
				{"POST", "/api/v2/org/" + emulator.DefaultOrgID + "/service-account", `{"id":"escape","name":"escape"}`},
			},
			escapeRoutes: []string{emulator.RouteV2CreateKey, emulator.RouteV2CreateServiceAccount},
		},
		{
			purpose: purposeScopedLegacy, scheme: "token",
			authorize: func(n, m string) (string, string, string) {
				return "POST", "/network/" + n + "/member/" + m, `{"config":{"authorized":true}}`
			},
			list: "/network",
			listIDs: func(b []byte) []string {
				var l []struct{ ID string }
				_ = json.Unmarshal(b, &l)
				var out []string
				for _, it := range l {
					out = append(out, it.ID)
				}
				return out
			},
			escapes: []struct{ method, path, body string }{
				{"POST", "/user/" + emulator.DefaultLegacyUser + "/token", `{"tokenName":"escape","token":"` + strings.Repeat("e", 40) + `"}`},
				{"GET", "/user/" + emulator.DefaultLegacyUser, ""},
			},
			// The broker itself reads the user (reconciliation), so only the
			// token route must stay untouched.
			escapeRoutes: []string{emulator.RouteV1CreateToken},
		},
	}
}

// TestProxyLeaseDoesOnlyWhatItsScopeAllows is the acceptance path over
// gRPC and REST, for New Central and Legacy purposes: a proxy lease can
// authorise a member on its network, is refused on another network with
// nothing changed upstream, sees only its network in a list, cannot mint a
// credential, and is refused by the broker the first call after revoke.
func TestProxyLeaseDoesOnlyWhatItsScopeAllows(t *testing.T) {
	t.Parallel()
	h := setupScoped(t)
	ctx := testContext(t)
	aliveBefore := len(h.emu.Tokens().Alive())
	i := 0
	for _, a := range h.apis() {
		for _, c := range scopedAPIs() {
			m := memberID(i)
			i++
			t.Run(a.name()+"/"+c.purpose, func(t *testing.T) {
				issued, err := a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: c.purpose, Labels: map[string]string{"job": "acceptance"}})
				if err != nil {
					t.Fatalf("issue: %v", err)
				}
				wantBase := h.base + "/zt/" + c.purpose
				if c.purpose == purposeScopedLegacy {
					wantBase += "/api/v1"
				}
				if !strings.HasPrefix(issued.GetToken(), "ztbp_") || issued.GetApiBaseUrl() != wantBase ||
					issued.GetAuthScheme() != c.scheme || issued.GetLease().GetDelivery() != "proxy" {
					t.Fatalf("issued %q at %q with %q, delivery %q", issued.GetToken()[:5], issued.GetApiBaseUrl(), issued.GetAuthScheme(), issued.GetLease().GetDelivery())
				}

				method, path, body := c.authorize(netA, m)
				if st, b := h.zt(ctx, issued, method, path, body); st != http.StatusOK {
					t.Fatalf("authorise on the allowed network: %d %s", st, b)
				}
				if !h.memberTruth(t, netA, m).Authorized {
					t.Error("the emulator does not show the member authorised")
				}

				before := h.memberTruth(t, netB, m).Revision
				method, path, body = c.authorize(netB, m)
				st, b := h.zt(ctx, issued, method, path, body)
				if st != http.StatusForbidden || !strings.Contains(message(b), "does not allow POST") {
					t.Errorf("authorise on another network: %d %s", st, b)
				}
				if after := h.memberTruth(t, netB, m); after.Revision != before || after.Authorized {
					t.Errorf("the other network's member changed: %+v", after)
				}

				st, b = h.zt(ctx, issued, "GET", c.list, "")
				if ids := c.listIDs(b); st != http.StatusOK || len(ids) != 1 || ids[0] != netA {
					t.Errorf("list networks: %d %v (%s)", st, ids, b)
				}

				for _, e := range c.escapes {
					st, b := h.zt(ctx, issued, e.method, e.path, e.body)
					if st != http.StatusForbidden || !strings.Contains(message(b), "never forwarded") {
						t.Errorf("%s %s: %d %s, want 403", e.method, e.path, st, b)
					}
				}

				if _, err := a.revoke(ctx, h.keyA, &ztbrokerv1.RevokeLeaseRequest{Id: issued.GetLease().GetId(), Reason: "done"}); err != nil {
					t.Fatalf("revoke: %v", err)
				}
				st, b = h.zt(ctx, issued, "GET", c.list, "")
				if st != http.StatusUnauthorized || message(b) != "the lease of this credential has ended" {
					t.Errorf("first call after revoke: %d %s", st, b)
				}
				if got, _, _ := h.dbLease(t, issued.GetLease().GetId()); got != "revoked" {
					t.Errorf("lease is %s after revoke, want revoked", got)
				}
			})
		}
	}
	for _, c := range scopedAPIs() {
		for _, r := range c.escapeRoutes {
			if n := h.emu.Counters()[r]; len(n) > 0 {
				t.Errorf("route %s reached the emulator: %v", r, n)
			}
		}
	}
	if d := len(h.emu.Tokens().Alive()) - aliveBefore; d != 0 {
		t.Errorf("proxy issues minted %d upstream tokens; want none", d)
	}
}

// TestProxyCredentialIsBoundToItsPurposeAndScheme checks authentication
// at the door: wrong, foreign or missing credentials never reach a scope.
func TestProxyCredentialIsBoundToItsPurposeAndScheme(t *testing.T) {
	t.Parallel()
	h := setupScoped(t)
	ctx := testContext(t)
	issued, err := grpcAPI{h}.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeScoped})
	if err != nil {
		t.Fatal(err)
	}
	url := issued.GetApiBaseUrl() + "/api/v2/network/" + netA
	legacyURL := h.base + "/zt/" + purposeScopedLegacy + "/api/v1/network/" + netA
	cred := issued.GetToken()
	tampered := cred[:10] + strings.Map(func(r rune) rune {
		if r == 'a' {
			return 'b'
		}
		return 'a'
	}, cred[10:11]) + cred[11:]
	before := h.emu.Counters()
	for _, tt := range []struct {
		name, url, auth string
		want            int
	}{
		{"lower-case bearer", url, "bearer " + cred, 200},
		{"token scheme", url, "token " + cred, 200},
		{"no credential", url, "", 401},
		{"basic scheme", url, "Basic " + cred, 401},
		{"tampered credential", url, "Bearer " + tampered, 401},
		{"a broker API key", url, "Bearer " + h.keyA, 401},
		{"the upstream's own admin key", url, "Bearer " + h.emu.AdminToken, 401},
		{"another purpose's path", legacyURL, "token " + cred, 401},
		{"unknown purpose", h.base + "/zt/nope/api/v2/network", "Bearer " + cred, 404},
	} {
		st, hdr, b := h.ztRaw(ctx, tt.url, tt.auth, "GET", "", nil)
		if st != tt.want {
			t.Errorf("%s: %d %s, want %d", tt.name, st, b, tt.want)
		}
		if st == 401 && !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("%s: 401 without WWW-Authenticate", tt.name)
		}
	}
	after := h.emu.Counters()[emulator.RouteV2GetNetwork][200] - before[emulator.RouteV2GetNetwork][200]
	if after != 2 {
		t.Errorf("the emulator served %d GETs, want exactly the 2 authenticated ones", after)
	}
}
