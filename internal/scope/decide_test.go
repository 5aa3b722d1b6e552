package scope_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/scope"
)

const (
	netA = "8056c2e21c000001"
	netB = "8056c2e21c000002"
	memA = "deadbeef00"
	memB = "deadbeef01"
)

// v2Spec and v1Spec are a CI purpose that may read its one network and
// authorise and rename members on it.
var v2Spec = scope.Spec{
	Networks: []string{netA},
	Rules: []scope.RuleSpec{
		{Name: "list", Operations: []string{"GET /api/v2/network"}, Query: []string{"stats"}},
		{Name: "read", Operations: []string{
			"GET /api/v2/network/{network}",
			"GET /api/v2/network/{network}/member",
			"GET /api/v2/network/{network}/member/{member}",
		}},
		{Name: "authorize", Operations: []string{
			"POST /api/v2/network/{network}/member/{member}/authorize",
			"POST /api/v2/network/{network}/member/authorize",
		}},
		{Name: "rename", Operations: []string{"POST /api/v2/network/{network}/member/{member}"},
			When: `fields.all(f, f in ["name", "description"])`},
		{Name: "cleanup", Operations: []string{"DELETE /api/v2/network/{network}/member"},
			When: `labels.env == "test"`},
	},
}

var v1Spec = scope.Spec{
	Networks: []string{netA},
	Rules: []scope.RuleSpec{
		{Name: "read", Operations: []string{
			"GET /api/v1/network",
			"GET /api/v1/network/{network}",
			"GET /api/v1/network/{network}/member",
			"GET /api/v1/network/{network}/member/{member}",
		}},
		{Name: "authorize", Operations: []string{"POST /api/v1/network/{network}/member/{member}"},
			When: `fields.all(f, f in ["config.authorized", "name"]) && (!has(body.config) || !has(body.config.authorized) || body.config.authorized == true)`},
	},
}

const maxBody = 1024

func compile(t testing.TB, api scope.API, s scope.Spec) *scope.Scope {
	t.Helper()
	sc, err := scope.Compile("ci", api, s, scope.Options{MaxBody: maxBody})
	if err != nil {
		t.Fatalf("compile: %v", err)
	}
	return sc
}

// goZTCentralAuthorize is what go-ztcentral's AuthorizeMember sends: the
// one field it means, and every other field as null.
const goZTCentralAuthorize = `{"name":null,"description":null,"hidden":null,"config":{"authorized":true,"activeBridge":null,"ipAssignments":null,"tags":null}}`

func TestDecideTable(t *testing.T) {
	t.Parallel()
	scopes := map[scope.API]*scope.Scope{scope.APIv2: compile(t, scope.APIv2, v2Spec), scope.APIv1: compile(t, scope.APIv1, v1Spec)}
	n := "/api/v2/network/"
	m := n + netA + "/member/"
	n1 := "/api/v1/network/"
	m1 := n1 + netA + "/member/"
	type want struct {
		status int    // 0: allowed
		kind   string // Decision.Kind
		path   string // upstream path when allowed
		query  string
		body   string
	}
	tests := []struct {
		name   string
		api    scope.API
		method string
		target string
		header http.Header
		body   string
		labels map[string]string
		want   want
	}{
		// Allowed calls, and what goes upstream.
		{name: "v2 get allowed network", api: "v2", method: "GET", target: n + netA, want: want{path: n + netA}},
		{name: "v2 list networks", api: "v2", method: "GET", target: "/api/v2/network", want: want{path: "/api/v2/network"}},
		{name: "v2 list with an allowed query", api: "v2", method: "GET", target: "/api/v2/network?stats=true", want: want{path: "/api/v2/network", query: "stats=true"}},
		{name: "v2 empty query is no query", api: "v2", method: "GET", target: "/api/v2/network?", want: want{path: "/api/v2/network"}},
		{name: "v2 get member", api: "v2", method: "GET", target: m + memA, want: want{path: m + memA}},
		{name: "v2 authorize member", api: "v2", method: "POST", target: m + memA + "/authorize", want: want{path: m + memA + "/authorize"}},
		{name: "v2 authorize member with {}", api: "v2", method: "POST", target: m + memA + "/authorize", body: " {} ", want: want{path: m + memA + "/authorize", body: "{}"}},
		{name: "v2 bulk authorize is not a member id", api: "v2", method: "POST", target: m + "authorize", body: `["` + memA + `","` + memB + `"]`, want: want{path: m + "authorize", body: `["deadbeef00","deadbeef01"]`}},
		{name: "v2 rename member", api: "v2", method: "POST", target: m + memA, body: `{"name":"runner-1", "description": "ci"}`, want: want{path: m + memA, body: `{"description":"ci","name":"runner-1"}`}},
		{name: "v2 rename with nulls elsewhere", api: "v2", method: "POST", target: m + memA, body: `{"name":"r","activeBridge":null}`, want: want{path: m + memA, body: `{"activeBridge":null,"name":"r"}`}},
		{name: "v2 label-gated bulk delete", api: "v2", method: "DELETE", target: m[:len(m)-1], body: `[{"deviceId":"` + memA + `"}]`, labels: map[string]string{"env": "test"}, want: want{path: m[:len(m)-1], body: `[{"deviceId":"deadbeef00"}]`}},

		// Scope: allowlists, rules, conditions, queries.
		{name: "v2 other network", api: "v2", method: "GET", target: n + netB, want: want{status: 403, kind: "allowlist"}},
		{name: "v2 authorize on other network", api: "v2", method: "POST", target: n + netB + "/member/" + memA + "/authorize", want: want{status: 403, kind: "allowlist"}},
		{name: "v2 rename that also bridges", api: "v2", method: "POST", target: m + memA, body: `{"name":"r","activeBridge":true}`, want: want{status: 403, kind: "no_rule"}},
		{name: "v2 rename that assigns IPs", api: "v2", method: "POST", target: m + memA, body: `{"ipv4Assignments":["10.0.0.9"]}`, want: want{status: 403, kind: "no_rule"}},
		{name: "v2 delete network not in any rule", api: "v2", method: "DELETE", target: n + netA, want: want{status: 403, kind: "no_rule"}},
		{name: "v2 update network not in any rule", api: "v2", method: "POST", target: n + netA, body: `{"config":{"private":false}}`, want: want{status: 403, kind: "no_rule"}},
		{name: "v2 bulk delete with the wrong label", api: "v2", method: "DELETE", target: m[:len(m)-1], body: `[{"deviceId":"` + memA + `"}]`, labels: map[string]string{"env": "prod"}, want: want{status: 403, kind: "no_rule"}},
		{name: "v2 query the rule does not allow", api: "v2", method: "GET", target: "/api/v2/network?org-id=x", want: want{status: 403, kind: "query"}},
		{name: "v2 query on an operation without one", api: "v2", method: "GET", target: n + netA + "?stats=true", want: want{status: 403, kind: "query"}},
		{name: "v2 query smuggling a second value", api: "v2", method: "GET", target: "/api/v2/network?stats=true&stats=false", want: want{status: 400, kind: "non_canonical"}},
		{name: "v2 query smuggling with ;", api: "v2", method: "GET", target: "/api/v2/network?stats=true;org-id=x", want: want{status: 400, kind: "non_canonical"}},
		{name: "v2 query smuggling an encoded &", api: "v2", method: "GET", target: "/api/v2/network?stats=true%26org-id=x", want: want{status: 400, kind: "non_canonical"}},
		{name: "v2 query key without value", api: "v2", method: "GET", target: "/api/v2/network?stats", want: want{status: 400, kind: "non_canonical"}},

		// Path traversal and other non-canonical targets.
		{name: "dot-dot", api: "v2", method: "GET", target: n + netA + "/../" + netB, want: want{status: 400, kind: "non_canonical"}},
		{name: "dot", api: "v2", method: "GET", target: n + "./" + netA, want: want{status: 400, kind: "non_canonical"}},
		{name: "double slash", api: "v2", method: "GET", target: "/api/v2//network/" + netA, want: want{status: 400, kind: "non_canonical"}},
		{name: "leading double slash", api: "v2", method: "GET", target: "//api/v2/network", want: want{status: 400, kind: "non_canonical"}},
		{name: "trailing slash", api: "v2", method: "GET", target: n + netA + "/", want: want{status: 400, kind: "non_canonical"}},
		{name: "encoded slash %2F", api: "v2", method: "GET", target: n + netA + "%2Fmember", want: want{status: 400, kind: "non_canonical"}},
		{name: "encoded slash %2f", api: "v2", method: "GET", target: n + netA + "%2fmember", want: want{status: 400, kind: "non_canonical"}},
		{name: "encoded backslash %5C", api: "v2", method: "GET", target: n + netA + "%5Cmember", want: want{status: 400, kind: "non_canonical"}},
		{name: "encoded dot-dot", api: "v2", method: "GET", target: n + netA + "/%2e%2e/" + netB, want: want{status: 400, kind: "non_canonical"}},
		{name: "backslash", api: "v2", method: "GET", target: n + netA + `\member`, want: want{status: 400, kind: "non_canonical"}},
		{name: "trailing dot", api: "v2", method: "GET", target: n + netA + ".", want: want{status: 400, kind: "non_canonical"}},
		{name: "fragment", api: "v2", method: "GET", target: n + netA + "#x", want: want{status: 400, kind: "non_canonical"}},
		{name: "upper-case network id", api: "v2", method: "GET", target: n + strings.ToUpper(netA), want: want{status: 400, kind: "non_canonical"}},
		{name: "upper-case API prefix", api: "v2", method: "GET", target: "/API/v2/network", want: want{status: 400, kind: "non_canonical"}},
		{name: "mixed-case segment", api: "v2", method: "GET", target: "/api/v2/Network/" + netA, want: want{status: 400, kind: "non_canonical"}},
		{name: "absolute-form target", api: "v2", method: "GET", target: "http://central.zerotier.com/api/v2/network", want: want{status: 400, kind: "non_canonical"}},
		{name: "matrix parameter", api: "v2", method: "GET", target: n + netA + ";x=1", want: want{status: 400, kind: "non_canonical"}},
		{name: "beta prefix", api: "v2", method: "GET", target: "/api/v2beta/network/" + netA + "/flow-rule", want: want{status: 400, kind: "non_canonical"}},

		// Methods.
		{name: "X-HTTP-Method-Override", api: "v2", method: "GET", target: n + netA, header: http.Header{"X-Http-Method-Override": {"DELETE"}}, want: want{status: 400, kind: "method_override"}},
		{name: "X-HTTP-Method", api: "v2", method: "POST", target: m + memA + "/authorize", header: http.Header{"X-Http-Method": {"DELETE"}}, want: want{status: 400, kind: "method_override"}},
		{name: "X-Method-Override", api: "v1", method: "GET", target: n1 + netA, header: http.Header{"X-Method-Override": {"DELETE"}}, want: want{status: 400, kind: "method_override"}},
		{name: "PUT, v1's synonym for POST, is not named", api: "v2", method: "PUT", target: m + memA, body: `{"name":"r"}`, want: want{status: 403, kind: "unsupported"}},
		{name: "HEAD", api: "v2", method: "HEAD", target: n + netA, want: want{status: 403, kind: "unsupported"}},
		{name: "lower-case method", api: "v2", method: "get", target: n + netA, want: want{status: 403, kind: "unsupported"}},

		// Bodies.
		{name: "duplicate keys", api: "v2", method: "POST", target: m + memA, body: `{"name":"a","name":"b"}`, want: want{status: 400, kind: "bad_body"}},
		{name: "duplicate nested keys", api: "v1", method: "POST", target: m1 + memA, body: `{"config":{"authorized":true,"authorized":false}}`, want: want{status: 400, kind: "bad_body"}},
		{name: "form-encoded body", api: "v2", method: "POST", target: m + memA, body: `name=runner`, want: want{status: 400, kind: "bad_body"}},
		{name: "two JSON values", api: "v2", method: "POST", target: m + memA, body: `{"name":"a"} {"activeBridge":true}`, want: want{status: 400, kind: "bad_body"}},
		{name: "invalid UTF-8", api: "v2", method: "POST", target: m + memA, body: "{\"name\":\"\xff\"}", want: want{status: 400, kind: "bad_body"}},
		{name: "array where an object goes", api: "v2", method: "POST", target: m + memA, body: `[{"name":"a"}]`, want: want{status: 400, kind: "bad_body"}},
		{name: "bulk ids not an array", api: "v2", method: "POST", target: m + "authorize", body: `{"ids":["` + memA + `"]}`, want: want{status: 400, kind: "bad_body"}},
		{name: "bulk id upper-case", api: "v2", method: "POST", target: m + "authorize", body: `["DEADBEEF00"]`, want: want{status: 400, kind: "bad_body"}},
		{name: "empty body where one is needed", api: "v2", method: "POST", target: m + memA, want: want{status: 400, kind: "bad_body"}},
		{name: "body on a GET", api: "v2", method: "GET", target: n + netA, body: `{}`, want: want{status: 400, kind: "bad_body"}},
		{name: "body on an operation without one", api: "v2", method: "POST", target: m + memA + "/authorize", body: `{"x":1}`, want: want{status: 400, kind: "bad_body"}},
		{name: "oversized body", api: "v2", method: "POST", target: m + memA, body: `{"name":"` + strings.Repeat("a", maxBody) + `"}`, want: want{status: 413, kind: "too_large"}},
		{name: "deep nesting", api: "v2", method: "POST", target: m + memA, body: strings.Repeat(`{"a":`, 40) + "1" + strings.Repeat("}", 40), want: want{status: 400, kind: "bad_body"}},

		// The hard deny list, whatever the rules.
		{name: "v2 create API key", api: "v2", method: "POST", target: "/api/v2/service-account/sa-emulator/api-key", body: `{"expires":"2030-01-01T00:00:00Z"}`, want: want{status: 403, kind: "hard_deny"}},
		{name: "v2 delete API key", api: "v2", method: "DELETE", target: "/api/v2/api-key/0011aabb", want: want{status: 403, kind: "hard_deny"}},
		{name: "v2 update API key", api: "v2", method: "POST", target: "/api/v2/api-key/0011aabb", want: want{status: 403, kind: "hard_deny"}},
		{name: "v2 read the broker's service account", api: "v2", method: "GET", target: "/api/v2/service-account/sa-emulator", want: want{status: 403, kind: "hard_deny"}},
		{name: "v2 create service account", api: "v2", method: "POST", target: "/api/v2/org/emu0rg0000000001/service-account", want: want{status: 403, kind: "hard_deny"}},
		{name: "v2 list service accounts", api: "v2", method: "GET", target: "/api/v2/org/emu0rg0000000001/service-account", want: want{status: 403, kind: "hard_deny"}},
		{name: "v2 org invitation", api: "v2", method: "POST", target: "/api/v2/org/emu0rg0000000001/invitation", want: want{status: 403, kind: "hard_deny"}},
		{name: "v2 network IAM", api: "v2", method: "POST", target: n + netA + "/iam", want: want{status: 403, kind: "hard_deny"}},
		{name: "v2 org IAM", api: "v2", method: "PUT", target: "/api/v2/org/emu0rg0000000001/iam", want: want{status: 403, kind: "hard_deny"}},
		{name: "v2 user", api: "v2", method: "POST", target: "/api/v2/user/check-permissions", want: want{status: 403, kind: "hard_deny"}},
		{name: "v1 create user token", api: "v1", method: "POST", target: "/api/v1/user/00000000-0000-4000-8000-00000000e001/token", want: want{status: 403, kind: "hard_deny"}},
		{name: "v1 delete user token", api: "v1", method: "DELETE", target: "/api/v1/user/00000000-0000-4000-8000-00000000e001/token/ztbroker-x", want: want{status: 403, kind: "hard_deny"}},
		{name: "v1 user record", api: "v1", method: "GET", target: "/api/v1/user/00000000-0000-4000-8000-00000000e001", want: want{status: 403, kind: "hard_deny"}},
		{name: "v1 network users", api: "v1", method: "POST", target: n1 + netA + "/users", want: want{status: 403, kind: "hard_deny"}},
		{name: "v1 org", api: "v1", method: "GET", target: "/api/v1/org", want: want{status: 403, kind: "hard_deny"}},
		{name: "v1 org invitation", api: "v1", method: "POST", target: "/api/v1/org-invitation", want: want{status: 403, kind: "hard_deny"}},
		{name: "v1 random token (mixed case)", api: "v1", method: "GET", target: "/api/v1/randomToken", want: want{status: 400, kind: "non_canonical"}},

		// Legacy (v1).
		{name: "v1 list networks", api: "v1", method: "GET", target: "/api/v1/network", want: want{path: "/api/v1/network"}},
		{name: "v1 get member", api: "v1", method: "GET", target: m1 + memA, want: want{path: m1 + memA}},
		{name: "v1 authorize member", api: "v1", method: "POST", target: m1 + memA, body: `{"config":{"authorized":true}}`, want: want{path: m1 + memA, body: `{"config":{"authorized":true}}`}},
		{name: "v1 go-ztcentral authorize with nulls", api: "v1", method: "POST", target: m1 + memA, body: goZTCentralAuthorize, want: want{path: m1 + memA, body: `{"config":{"activeBridge":null,"authorized":true,"ipAssignments":null,"tags":null},"description":null,"hidden":null,"name":null}`}},
		{name: "v1 deauthorize is not allowed", api: "v1", method: "POST", target: m1 + memA, body: `{"config":{"authorized":false}}`, want: want{status: 403, kind: "no_rule"}},
		{name: "v1 authorize that assigns IPs", api: "v1", method: "POST", target: m1 + memA, body: `{"config":{"authorized":true,"ipAssignments":["10.0.0.9"]}}`, want: want{status: 403, kind: "no_rule"}},
		{name: "v1 authorize exempting from SSO", api: "v1", method: "POST", target: m1 + memA, body: `{"config":{"authorized":true,"ssoExempt":true}}`, want: want{status: 403, kind: "no_rule"}},
		{name: "v1 authorize on other network", api: "v1", method: "POST", target: n1 + netB + "/member/" + memA, body: `{"config":{"authorized":true}}`, want: want{status: 403, kind: "allowlist"}},
		{name: "v1 make the network public", api: "v1", method: "POST", target: n1 + netA, body: `{"config":{"private":false}}`, want: want{status: 403, kind: "no_rule"}},
		{name: "v1 create network", api: "v1", method: "POST", target: "/api/v1/network", body: `{}`, want: want{status: 403, kind: "no_rule"}},
		{name: "v1 delete member", api: "v1", method: "DELETE", target: m1 + memA, want: want{status: 403, kind: "no_rule"}},
		{name: "v1 status is not forwarded", api: "v1", method: "GET", target: "/api/v1/status", want: want{status: 403, kind: "unsupported"}},
		{name: "v1 member id too short", api: "v1", method: "GET", target: m1 + "deadbeef", want: want{status: 403, kind: "unsupported"}},
		{name: "v2 path on a v1 purpose", api: "v1", method: "GET", target: "/api/v2/network", want: want{status: 403, kind: "other_api"}},
		{name: "v1 path on a v2 purpose", api: "v2", method: "GET", target: "/api/v1/network", want: want{status: 403, kind: "other_api"}},
		{name: "v1 path without version", api: "v1", method: "GET", target: "/api/network", want: want{status: 400, kind: "non_canonical"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			d := scopes[tt.api].Decide(scope.Request{
				Method: tt.method, Target: tt.target, Header: tt.header, Body: []byte(tt.body),
				Lease: scope.Lease{ID: "l1", Owner: "api_key:ci", Labels: tt.labels},
			})
			got := want{status: d.Status, kind: d.Kind, path: d.Path, query: d.Query, body: string(d.Body)}
			exp := tt.want
			if exp.status == 0 {
				exp.kind = "ok"
			}
			if diff := cmp.Diff(exp, got, cmp.AllowUnexported(want{})); diff != "" {
				t.Errorf("%s %s: decision (-want +got):\n%s\nreason: %s", tt.method, tt.target, diff, d.Reason)
			}
			if d.Allowed != (exp.status == 0) {
				t.Errorf("Allowed = %v with status %d", d.Allowed, d.Status)
			}
			if !d.Allowed && d.Message == "" {
				t.Error("a refusal without a message")
			}
			if strings.Contains(d.Message, "rename") || strings.Contains(d.Message, netA+",") {
				t.Errorf("message %q discloses the rules", d.Message)
			}
		})
	}
	if len(tests) < 40 {
		t.Fatalf("only %d cases", len(tests))
	}
}
