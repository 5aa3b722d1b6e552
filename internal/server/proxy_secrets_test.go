package server_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// TestProxySecretsScan runs a busy proxy session, successes and every kind
// of refusal, and then searches everything the broker wrote or said. The
// upstream secret (the broker's own admin credential, which every call is
// forwarded with) must appear nowhere, not even in what proxy callers get
// back; broker credentials and API keys nowhere but in IssueToken's answer.
func TestProxySecretsScan(t *testing.T) {
	t.Parallel()
	h := setupScoped(t)
	ctx := testContext(t)
	var creds []string
	var answers strings.Builder
	record := func(st int, hdr http.Header, b []byte) {
		fmt.Fprintf(&answers, "%d %v %s\n", st, hdr, b)
	}
	m := 0
	for _, a := range h.apis() {
		for _, c := range scopedAPIs() {
			req := &ztbrokerv1.IssueTokenRequest{Purpose: c.purpose, IdempotencyKey: "scan-" + a.name() + c.purpose}
			issued, err := a.issue(ctx, h.keyA, req)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := a.issue(ctx, h.keyA, req); err != nil {
				t.Fatalf("replay: %v", err)
			}
			cred := issued.GetToken()
			creds = append(creds, cred)
			call := func(method, path, body string, hdr http.Header) {
				st, rh, b := h.ztRaw(ctx, issued.GetApiBaseUrl()+path, issued.GetAuthScheme()+" "+cred, method, body, hdr)
				record(st, rh, b)
			}
			member := memberID(m)
			m++
			method, path, body := c.authorize(netA, member)
			call(method, path, body, nil) // allowed write
			call("GET", c.list, "", nil)  // filtered list
			m2, p2, b2 := c.authorize(netB, member)
			call(m2, p2, b2, nil)                                                                  // outside the scope
			call("GET", strings.Replace(c.list, "/network", "/network/"+netA+"/../x", 1), "", nil) // not canonical
			call("GET", c.list, "", http.Header{"X-Http-Method-Override": {"DELETE"}})             // override header
			for _, e := range c.escapes {                                                          // credentials and identities
				call(e.method, e.path, e.body, nil)
			}
			// The caller puts its own credential where a careless proxy
			// would log it: a body the scope refuses, and a missing member.
			call("POST", strings.TrimSuffix(path, "/authorize"), `{"name":"`+cred+`","hidden":true}`, nil)
			call("GET", strings.Replace(c.list, "/network", "/network/8056c2e21c0000ff", 1), "", nil)
			// The upstream secret presented to the proxy gets nowhere.
			st, rh, b := h.ztRaw(ctx, issued.GetApiBaseUrl()+c.list, "Bearer "+h.emu.AdminToken, "GET", "", nil)
			record(st, rh, b)
			if _, err := a.revoke(ctx, h.keyA, &ztbrokerv1.RevokeLeaseRequest{Id: issued.GetLease().GetId()}); err != nil {
				t.Fatal(err)
			}
			call("GET", c.list, "", nil) // after revoke
		}
	}
	metrics := h.scrape(t, ctx)
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	dump := dumpDatabase(t, h)
	places := map[string]string{
		"logs": h.logs.String(), "metrics": metrics, "spans": spansText(h), "database": dump,
	}
	secrets := append([]string{h.emu.AdminToken, h.keyA, h.keyB, h.keyRoot, h.sealKey}, creds...)
	for place, text := range places {
		if text == "" {
			t.Errorf("%s: nothing captured", place)
		}
		for i, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s contains secret #%d", place, i)
			}
		}
	}
	if strings.Contains(answers.String(), h.emu.AdminToken) {
		t.Error("a proxy caller was shown the upstream secret")
	}
	for _, want := range []string{"proxy_call", "proxy_deny", "proxy_read", "scoped-legacy"} {
		if !strings.Contains(dump, want) {
			t.Errorf("the database holds no %q: the search proves less than it should", want)
		}
	}
	if !strings.Contains(answers.String(), "403") || !strings.Contains(answers.String(), "401") || !strings.Contains(answers.String(), "400") {
		t.Errorf("the session lacks refusals:\n%s", answers.String())
	}
}
