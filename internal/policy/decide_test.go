package policy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/policy"
)

func deployPolicy(t testing.TB) *policy.Policy {
	t.Helper()
	p, err := policy.Compile("deploy", policy.Spec{
		APIKeys:  []string{"deployer"},
		Subjects: []string{"mtls:spiffe://example.org/ns/ops/sa/runner"},
		Rules: []policy.RuleSpec{
			{Name: "main-branch", MaxTTL: 30 * time.Minute,
				Expr: `identity.kind == "oidc" && claims.repository == "acme/infra" && claims.ref == "refs/heads/main"`},
			{Name: "release-env", Expr: `has(claims.environment) && claims.environment in ["prod", "staging"]`},
			{Name: "k8s-ns", Expr: `claims["kubernetes.io"].namespace == "deploy"`},
			{Name: "numeric", Expr: `claims.run_attempt == 1 && identity.owner.startsWith("oidc:")`},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDecide(t *testing.T) {
	t.Parallel()
	p := deployPolicy(t)
	oidc := func(claims map[string]any) *auth.Identity {
		return &auth.Identity{Kind: auth.KindOIDC, Subject: "github/repo:acme/infra", Claims: claims}
	}
	tests := []struct {
		name string
		id   *auth.Identity
		want policy.Decision
	}{
		{name: "nil identity", id: nil, want: policy.Decision{}},
		{name: "listed api key", id: &auth.Identity{Kind: auth.KindAPIKey, Subject: "deployer"},
			want: policy.Decision{Allowed: true, Rule: "api_keys"}},
		{name: "unlisted api key", id: &auth.Identity{Kind: auth.KindAPIKey, Subject: "other"}},
		{name: "api key name as mtls subject is not an api key", id: &auth.Identity{Kind: auth.KindMTLS, Subject: "deployer"}},
		{name: "listed subject", id: &auth.Identity{Kind: auth.KindMTLS, Subject: "spiffe://example.org/ns/ops/sa/runner"},
			want: policy.Decision{Allowed: true, Rule: "subjects"}},
		{name: "rule with max ttl", id: oidc(map[string]any{"repository": "acme/infra", "ref": "refs/heads/main"}),
			want: policy.Decision{Allowed: true, Rule: "main-branch", MaxTTL: 30 * time.Minute}},
		{name: "first failing rule does not stop later ones",
			id:   oidc(map[string]any{"repository": "acme/infra", "environment": "prod"}),
			want: policy.Decision{Allowed: true, Rule: "release-env"}},
		{name: "wrong ref", id: oidc(map[string]any{"repository": "acme/infra", "ref": "refs/heads/dev"})},
		{name: "no claims at all", id: oidc(nil)},
		{name: "claim of wrong type", id: oidc(map[string]any{"repository": 7, "ref": []any{"x"}, "environment": 3})},
		{name: "nested claim", id: oidc(map[string]any{"kubernetes.io": map[string]any{"namespace": "deploy"}}),
			want: policy.Decision{Allowed: true, Rule: "k8s-ns"}},
		{name: "nested claim not a map", id: oidc(map[string]any{"kubernetes.io": "deploy"})},
		{name: "json number matches int literal", id: oidc(map[string]any{"run_attempt": float64(1)}),
			want: policy.Decision{Allowed: true, Rule: "numeric"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if diff := cmp.Diff(tt.want, p.Decide(tt.id)); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExplain(t *testing.T) {
	t.Parallel()
	p := deployPolicy(t)
	id := &auth.Identity{Kind: auth.KindOIDC, Subject: "github/x", Claims: map[string]any{
		"repository": "acme/infra", "ref": "refs/heads/dev", "environment": "prod",
	}}
	want := []policy.RuleResult{
		{Rule: "api_keys", Reason: `identity kind is "oidc", not "api_key"`},
		{Rule: "subjects", Reason: `"oidc:github/x" is not listed`},
		{Rule: "main-branch", Reason: "expression is false", MaxTTL: 30 * time.Minute},
		{Rule: "release-env", Admitted: true, Reason: "expression is true"},
		{Rule: "k8s-ns", Reason: "evaluation error: no such key: kubernetes.io"},
		{Rule: "numeric", Reason: "evaluation error: no such key: run_attempt"},
	}
	if diff := cmp.Diff(want, p.Explain(id)); diff != "" {
		t.Errorf("explain (-want +got):\n%s", diff)
	}
}

func TestCostLimitStopsRunawayRules(t *testing.T) {
	t.Parallel()
	p, err := policy.Compile("p", policy.Spec{Rules: []policy.RuleSpec{{
		Name: "quadratic",
		Expr: `claims.groups.all(a, claims.groups.all(b, a == b))`,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	groups := make([]any, 500)
	for i := range groups {
		groups[i] = "g"
	}
	res := p.Explain(&auth.Identity{Kind: auth.KindOIDC, Subject: "x", Claims: map[string]any{"groups": groups}})
	// Unbounded, the rule is true. Whichever bound stops it first (the
	// cost limit, or on a starved machine the deadline), it admits no one.
	if got := res[2]; got.Admitted || (got.Reason != "evaluation error: operation cancelled: actual cost limit exceeded" &&
		got.Reason != "evaluation error: operation interrupted: context deadline exceeded") {
		t.Errorf("result = %+v", got)
	}
}

// TestCostLimitWithoutLoops: a rule without any comprehension can still
// cost quadratic work in one call; it is stopped by the cost limit all
// the same, which once applied to looping rules only.
func TestCostLimitWithoutLoops(t *testing.T) {
	t.Parallel()
	p, err := policy.Compile("p", policy.Spec{Rules: []policy.RuleSpec{{
		Name: "replace",
		Expr: `claims.repository.replace("a", claims.repository).size() > 0`,
	}}})
	if err != nil {
		t.Fatal(err)
	}
	id := &auth.Identity{Kind: auth.KindOIDC, Subject: "x", Claims: map[string]any{"repository": strings.Repeat("a", 1000)}}
	if d := p.Decide(id); d.Allowed {
		t.Errorf("a rule costing a million operations admitted: %+v", d)
	}
	if got := p.Explain(id)[2]; got.Reason != "evaluation error: operation cancelled: actual cost limit exceeded" {
		t.Errorf("result = %+v", got)
	}
}

// TestEvalDeadline: a decision past its deadline admits no one, even by
// a rule that would be true.
func TestEvalDeadline(t *testing.T) {
	t.Parallel()
	p, err := policy.Compile("p", policy.Spec{Rules: []policy.RuleSpec{{
		Name: "loop",
		Expr: `claims.groups.exists(g, g == "last")`,
	}}}, policy.WithEvalDeadline(time.Nanosecond))
	if err != nil {
		t.Fatal(err)
	}
	groups := make([]any, 300)
	for i := range groups {
		groups[i] = "g"
	}
	groups[len(groups)-1] = "last"
	id := &auth.Identity{Kind: auth.KindOIDC, Subject: "x", Claims: map[string]any{"groups": groups}}
	if d := p.Decide(id); d.Allowed {
		t.Errorf("admitted past the deadline: %+v", d)
	}
	if got := p.Explain(id)[2]; got.Reason != "evaluation error: operation interrupted: context deadline exceeded" {
		t.Errorf("result = %+v", got)
	}
}

// TestOversizedClaimsAreNotEvaluated: a claim over MaxClaimBytes, flat or
// nested, keeps every rule from admitting, and Explain says which claim;
// api_keys and subjects do not read claims and still admit.
func TestOversizedClaimsAreNotEvaluated(t *testing.T) {
	t.Parallel()
	p, err := policy.Compile("p", policy.Spec{
		Subjects: []string{"oidc:github/listed"},
		Rules:    []policy.RuleSpec{{Name: "any", Expr: `true`}},
	})
	if err != nil {
		t.Fatal(err)
	}
	big := strings.Repeat("a", policy.MaxClaimBytes+1)
	for name, claims := range map[string]map[string]any{
		"flat":   {"repository": big},
		"nested": {"kubernetes.io": map[string]any{"pod": map[string]any{"name": big}}},
		"list":   {"groups": []any{big[:600], big[:600]}},
	} {
		id := &auth.Identity{Kind: auth.KindOIDC, Subject: "github/x", Claims: claims}
		if d := p.Decide(id); d.Allowed {
			t.Errorf("%s: admitted with an oversized claim: %+v", name, d)
		}
		if got := p.Explain(id)[2].Reason; !strings.Contains(got, "larger than 1024 bytes") {
			t.Errorf("%s: explain says %q", name, got)
		}
	}
	listed := &auth.Identity{Kind: auth.KindOIDC, Subject: "github/listed", Claims: map[string]any{"repository": big}}
	if d := p.Decide(listed); !d.Allowed || d.Rule != policy.SourceSubjects {
		t.Errorf("a listed subject with an oversized claim: %+v", d)
	}
	small := &auth.Identity{Kind: auth.KindOIDC, Subject: "github/x", Claims: map[string]any{"repository": big[:policy.MaxClaimBytes]}}
	if d := p.Decide(small); !d.Allowed {
		t.Errorf("a claim at the limit was refused: %+v", d)
	}
}
