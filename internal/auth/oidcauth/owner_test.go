package oidcauth_test

import (
	"testing"

	"github.com/ztbroker/ztbroker/internal/auth/oidcauth"
)

// TestOwnerClaims checks that callers sharing a sub but not their owner
// claims are different owners, that values cannot be crafted to pass for
// another owner, and that an issuer owned by sub alone keeps the
// principal as owner.
func TestOwnerClaims(t *testing.T) {
	t.Parallel()
	gh := setup(t, nil)
	owner := func(b *bundle, over map[string]any) string {
		t.Helper()
		id, err := b.auth(sign(t, b.key, b.claims(over)))
		if err != nil {
			t.Fatalf("authenticate %v: %v", over, err)
		}
		return id.Owner()
	}

	a := owner(gh, map[string]any{"job_workflow_ref": "acme/infra/.github/workflows/a.yml@refs/heads/main"})
	b := owner(gh, map[string]any{"job_workflow_ref": "acme/infra/.github/workflows/b.yml@refs/heads/main"})
	if a == b {
		t.Errorf("two workflows of one branch share the owner %q", a)
	}
	if again := owner(gh, map[string]any{"job_workflow_ref": "acme/infra/.github/workflows/a.yml@refs/heads/main", "run_id": 99}); again != a {
		t.Errorf("the same workflow's next run is owner %q, want %q", again, a)
	}
	// A branch name may hold & and =; escaping keeps the split unambiguous.
	forged := owner(gh, map[string]any{
		"sub":              "repo:acme/infra:ref:refs/heads/x&job_workflow_ref=y",
		"job_workflow_ref": "z",
	})
	plain := owner(gh, map[string]any{
		"sub":              "repo:acme/infra:ref:refs/heads/x",
		"job_workflow_ref": "y&job_workflow_ref=z",
	})
	if forged == plain {
		t.Errorf("different owner claims give one owner %q", forged)
	}
	if want := "oidc:gh/sub=repo:acme/infra:ref:refs/heads/x%26job_workflow_ref%3Dy&job_workflow_ref=z"; forged != want {
		t.Errorf("owner = %q, want %q", forged, want)
	}

	k8s := setup(t, func(c *oidcauth.Config) {
		c.Issuers[0].Preset, c.Issuers[0].Name = oidcauth.PresetKubernetes, "prod"
	})
	if got, want := owner(k8s, map[string]any{"sub": "system:serviceaccount:ci:runner"}), "oidc:prod/system:serviceaccount:ci:runner"; got != want {
		t.Errorf("kubernetes owner = %q, want the principal %q", got, want)
	}

	custom := setup(t, func(c *oidcauth.Config) { c.Issuers[0].OwnerClaims = []string{"repository", "run_id"} })
	if got, want := owner(custom, nil), "oidc:gh/repository=acme/infra&run_id=12345"; got != want {
		t.Errorf("configured owner claims give %q, want %q", got, want)
	}
}

func TestOwnerClaimsChecked(t *testing.T) {
	t.Parallel()
	ps := oidcauth.Check(oidcauth.Config{Audience: "a", Issuers: []oidcauth.Issuer{{
		Preset: oidcauth.PresetGitHub, OwnerClaims: []string{"sub", "sub", "bad claim"},
	}}})
	var got []string
	for _, p := range ps {
		got = append(got, p.String())
	}
	want := []string{
		`issuers[0].owner_claims[1]: duplicate claim "sub"`,
		`issuers[0].owner_claims[2]: must be a claim name, got "bad claim"`,
	}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("problems = %q, want %q", got, want)
	}
}
