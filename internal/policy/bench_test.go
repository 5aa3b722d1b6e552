package policy_test

import (
	"fmt"
	"testing"

	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/policy"
)

// BenchmarkDecide measures one issue decision against a config of 100
// purposes with 10 rules each. The caller is admitted by the last rule of
// the purpose it asks for, so every rule of that purpose is evaluated: the
// worst case for a caller who is allowed.
func BenchmarkDecide(b *testing.B) {
	const purposes, rules = 100, 10
	policies := make([]*policy.Policy, purposes)
	for i := range policies {
		var s policy.Spec
		for j := range rules {
			s.Rules = append(s.Rules, policy.RuleSpec{
				Name: fmt.Sprintf("r%d", j),
				Expr: fmt.Sprintf(`claims.repository == "acme/repo-%d-%d" && claims.ref == "refs/heads/main"`, i, j),
			})
		}
		p, err := policy.Compile(fmt.Sprintf("p%d", i), s)
		if err != nil {
			b.Fatal(err)
		}
		policies[i] = p
	}
	ids := make([]*auth.Identity, purposes)
	for i := range ids {
		ids[i] = &auth.Identity{Kind: auth.KindOIDC, Subject: "github/x", Claims: map[string]any{
			"repository": fmt.Sprintf("acme/repo-%d-%d", i, rules-1),
			"ref":        "refs/heads/main",
			"run_id":     "123",
			"actor":      "someone",
		}}
	}
	b.ReportAllocs()
	b.ResetTimer()
	i := 0
	for b.Loop() {
		n := i % purposes
		if d := policies[n].Decide(ids[n]); !d.Allowed {
			b.Fatalf("denied: %+v", d)
		}
		i++
	}
}
