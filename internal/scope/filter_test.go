package scope_test

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/scope"
)

func TestFilterCollections(t *testing.T) {
	t.Parallel()
	spec := scope.Spec{
		Networks: []string{netA},
		Members:  []string{memA},
		Rules: []scope.RuleSpec{{Name: "read", Operations: []string{
			"GET /api/v2/network", "GET /api/v2/network/{network}/member",
		}}},
	}
	v2 := compile(t, scope.APIv2, spec)
	spec.Rules = []scope.RuleSpec{{Name: "read", Operations: []string{"GET /api/v1/network", "GET /api/v1/network/{network}/member"}}}
	v1 := compile(t, scope.APIv1, spec)
	op := func(sc *scope.Scope, target string) *scope.Op {
		d := sc.Decide(scope.Request{Method: "GET", Target: target})
		if !d.Allowed {
			t.Fatalf("%s refused: %s", target, d.Reason)
		}
		return d.Op
	}
	tests := []struct {
		name      string
		sc        *scope.Scope
		target    string
		in, want  string
		wantError bool
	}{
		{"v2 networks: items filtered, aggregate stats dropped", v2, "/api/v2/network",
			`{"items":[{"id":"` + netB + `","name":"prod","stats":{"totalDevices":9}},{"id":"` + netA + `","name":"ci","stats":{"totalDevices":2}}],"stats":{"authorizedDevices":11}}`,
			`{"items":[{"id":"` + netA + `","name":"ci","stats":{"totalDevices":2}}]}`, false},
		{"v2 members: bare array by deviceId", v2, "/api/v2/network/" + netA + "/member",
			`[{"deviceId":"` + memB + `","revision":12345678901234567890},{"deviceId":"` + memA + `","revision":3}]`,
			`[{"deviceId":"` + memA + `","revision":3}]`, false},
		{"v1 networks by id", v1, "/api/v1/network",
			`[{"id":"` + netA + `","config":{"name":"ci"}},{"id":"` + netB + `","config":{"name":"prod"}}]`,
			`[{"config":{"name":"ci"},"id":"` + netA + `"}]`, false},
		{"v1 members by nodeId, not the composite id", v1, "/api/v1/network/" + netA + "/member",
			`[{"id":"` + netA + `-` + memA + `","nodeId":"` + memB + `"},{"id":"x","nodeId":"` + memA + `"}]`,
			`[{"id":"x","nodeId":"` + memA + `"}]`, false},
		{"empty list", v1, "/api/v1/network", `[]`, `[]`, false},
		{"not JSON", v2, "/api/v2/network", `<html>`, "", true},
		{"object where a list goes", v1, "/api/v1/network", `{"items":[]}`, "", true},
		{"item without an id", v2, "/api/v2/network", `{"items":[{"name":"x"}]}`, "", true},
		{"items not a list", v2, "/api/v2/network", `{"items":{"id":"x"}}`, "", true},
		{"id not a string", v1, "/api/v1/network", `[{"id":1}]`, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.sc.Filter(op(tt.sc, tt.target), []byte(tt.in))
			if tt.wantError {
				if !errors.Is(err, scope.ErrUnfilterable) {
					t.Fatalf("got %s, %v; want ErrUnfilterable", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(tt.want, string(got)); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

func TestNoFilterWithoutAnAllowlist(t *testing.T) {
	t.Parallel()
	sc := compile(t, scope.APIv2, scope.Spec{Rules: []scope.RuleSpec{{Name: "r", Operations: []string{"GET /api/v2/network", "GET /api/v2/network/{network}"}}}})
	d := sc.Decide(scope.Request{Method: "GET", Target: "/api/v2/network"})
	if sc.NeedsFilter(d.Op) {
		t.Error("a scope with no network allowlist filters network lists")
	}
	d = sc.Decide(scope.Request{Method: "GET", Target: "/api/v2/network/" + netB})
	if !d.Allowed || sc.NeedsFilter(d.Op) {
		t.Errorf("single GET: allowed=%v filter=%v", d.Allowed, sc.NeedsFilter(d.Op))
	}
}

func TestMemberAllowlistCoversBulkBodies(t *testing.T) {
	t.Parallel()
	sc := compile(t, scope.APIv2, scope.Spec{
		Members: []string{memA},
		Rules: []scope.RuleSpec{{Name: "r", Operations: []string{
			"POST /api/v2/network/{network}/member/authorize", "POST /api/v2/network/{network}/member/{member}/authorize",
		}}},
	})
	m := "/api/v2/network/" + netB + "/member/"
	for _, tt := range []struct {
		target, body string
		allowed      bool
	}{
		{m + memA + "/authorize", "", true},
		{m + memB + "/authorize", "", false},
		{m + "authorize", `["` + memA + `"]`, true},
		{m + "authorize", `["` + memA + `","` + memB + `"]`, false},
	} {
		d := sc.Decide(scope.Request{Method: "POST", Target: tt.target, Body: []byte(tt.body)})
		if d.Allowed != tt.allowed {
			t.Errorf("%s %s: allowed=%v, want %v (%s)", tt.target, tt.body, d.Allowed, tt.allowed, d.Reason)
		}
	}
}

func TestExplainSaysWhy(t *testing.T) {
	t.Parallel()
	sc := compile(t, scope.APIv2, v2Spec)
	d, steps := sc.Explain(scope.Request{
		Method: "POST", Target: "/api/v2/network/" + netA + "/member/" + memA, Body: []byte(`{"name":"a","activeBridge":true}`),
	})
	if d.Allowed {
		t.Fatal("allowed")
	}
	var got []string
	for _, s := range steps {
		mark := "no"
		if s.OK {
			mark = "yes"
		}
		got = append(got, s.Check+" "+mark+" "+s.Detail)
	}
	want := []string{
		"path yes canonical",
		"hard deny yes not a credential, identity or access route",
		"operation yes POST /api/v2/network/{network}/member/{member}",
		"body yes well formed",
		"networks yes network " + netA + " allowed",
		"rule list no does not name POST /api/v2/network/{network}/member/{member}",
		"rule read no does not name POST /api/v2/network/{network}/member/{member}",
		"rule authorize no does not name POST /api/v2/network/{network}/member/{member}",
		"rule rename no condition is false",
		"rule cleanup no does not name POST /api/v2/network/{network}/member/{member}",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("steps (-want +got):\n%s", diff)
	}
	if d.Message != `the scope of purpose "ci" does not allow POST /api/v2/network/{network}/member/{member}` {
		t.Errorf("message %q", d.Message)
	}
}
