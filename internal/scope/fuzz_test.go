package scope

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// fuzzSpec allows a little of everything, so the fuzzer can reach every
// step of a decision.
var fuzzSpec = Spec{
	Networks: []string{"8056c2e21c000001"},
	Members:  []string{"deadbeef00", "deadbeef01"},
	Rules: []RuleSpec{
		{Name: "list", Operations: []string{"GET /api/v2/network"}, Query: []string{"stats", "org-id"}},
		{Name: "read", Operations: []string{"GET /api/v2/network/{network}", "GET /api/v2/network/{network}/member"}},
		{Name: "bulk", Operations: []string{"POST /api/v2/network/{network}/member/authorize", "DELETE /api/v2/network/{network}/member"}},
		{Name: "update", Operations: []string{"POST /api/v2/network/{network}/member/{member}"},
			When: `fields.all(f, f in ["name", "description"]) && (!has(body.name) || size(string(body.name)) < 64)`},
		{Name: "authorize", Operations: []string{"POST /api/v2/network/{network}/member/{member}/authorize"}},
	},
}

var canonicalPath = regexp.MustCompile(`^/api/v2(/[a-z0-9-]+)+$`)

// FuzzDecide throws arbitrary requests at a scope. Whatever comes in,
// Decide must not panic, Explain must agree with it, and an allowed call
// must forward exactly the canonical path it was asked for, inside the
// allowlists, never on the hard deny list, with a body that is JSON.
func FuzzDecide(f *testing.F) {
	sc, err := Compile("fuzz", APIv2, fuzzSpec, Options{MaxBody: 4096})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []struct{ method, target, body string }{
		{"GET", "/api/v2/network?stats=true", ""},
		{"GET", "/api/v2/network/8056c2e21c000001", ""},
		{"GET", "/api/v2/network/8056c2e21c000001/../8056c2e21c000002", ""},
		{"GET", "/api/v2/network/8056c2e21c000001%2F..%2Fapi-key", ""},
		{"POST", "/api/v2/network/8056c2e21c000001/member/deadbeef00", `{"name":"a","name":"b"}`},
		{"POST", "/api/v2/network/8056c2e21c000001/member/deadbeef00", `{"name":"runner","description":null}`},
		{"POST", "/api/v2/network/8056c2e21c000001/member/authorize", `["deadbeef00","deadbeef01"]`},
		{"DELETE", "/api/v2/network/8056c2e21c000001/member", `[{"deviceId":"deadbeef00"}]`},
		{"POST", "/api/v2/service-account/sa/api-key", `{"expires":"2030-01-01T00:00:00Z"}`},
		{"POST", "/api/v2/network/8056c2e21c000001/member/deadbeef00/authorize", "{}"},
		{"GET", "/api/v2/network?stats=true&stats=false", ""},
	} {
		f.Add(s.method, s.target, []byte(s.body), false)
	}
	f.Fuzz(func(t *testing.T, method, tgt string, body []byte, override bool) {
		h := http.Header{}
		if override {
			h.Set("X-HTTP-Method-Override", "DELETE")
		}
		r := Request{Method: method, Target: tgt, Header: h, Body: body, Lease: Lease{ID: "l", Owner: "o"}}
		d := sc.Decide(r)
		e, _ := sc.Explain(r)
		if d.Allowed != e.Allowed || d.Status != e.Status {
			t.Fatalf("Decide (%v, %d) and Explain (%v, %d) disagree", d.Allowed, d.Status, e.Allowed, e.Status)
		}
		if !d.Allowed {
			switch d.Status {
			case 400, 403, 413:
			default:
				t.Fatalf("refusal with status %d", d.Status)
			}
			return
		}
		if override {
			t.Fatal("allowed a request with a method override header")
		}
		if !canonicalPath.MatchString(d.Path) || strings.Contains(d.Path, "..") {
			t.Fatalf("allowed non-canonical upstream path %q", d.Path)
		}
		if p, _, _ := strings.Cut(tgt, "?"); p != d.Path {
			t.Fatalf("asked for %q but would forward %q", p, d.Path)
		}
		if _, denied := hardDeny(APIv2, strings.Split(strings.TrimPrefix(d.Path, "/api/v2/"), "/")); denied {
			t.Fatalf("allowed hard-denied path %q", d.Path)
		}
		if n, ok := d.Params[ParamNetwork]; ok && !sc.networks[n] {
			t.Fatalf("allowed network %q outside the allowlist", n)
		}
		if m, ok := d.Params[ParamMember]; ok && !sc.members[m] {
			t.Fatalf("allowed member %q outside the allowlist", m)
		}
		if d.Op.Method != method {
			t.Fatalf("allowed %s as %s", method, d.Op.Method)
		}
		if d.Body != nil {
			if _, err := parseJSON(d.Body); err != nil {
				t.Fatalf("forwarding a body that does not parse: %v", err)
			}
		}
		if d.Query != "" && !strings.HasSuffix(tgt, "?"+d.Query) {
			t.Fatalf("asked for %q but would forward query %q", tgt, d.Query)
		}
	})
}
