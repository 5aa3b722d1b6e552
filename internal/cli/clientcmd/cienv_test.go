package clientcmd

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestDetectCI(t *testing.T) {
	t.Parallel()
	github := map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/infra", "GITHUB_RUN_ID": "123",
		"GITHUB_RUN_ATTEMPT": "2", "GITHUB_JOB": "deploy", "GITHUB_ACTION": "__run_2", "RUNNER_NAME": "GitHub Actions 7",
	}
	gitlab := map[string]string{
		"GITLAB_CI": "true", "CI_PROJECT_ID": "55", "CI_PROJECT_PATH": "acme/infra",
		"CI_PIPELINE_ID": "900", "CI_JOB_ID": "901",
	}
	tests := []struct {
		name       string
		vars       map[string]string
		userLabels map[string]string
		userKey    string
		wantLabels map[string]string
		wantKey    string
	}{
		{
			name:       "github",
			vars:       github,
			wantLabels: map[string]string{"ci": "github", "repository": "acme/infra", "run_id": "123", "run_attempt": "2", "job": "deploy"},
			wantKey:    "gha-acme/infra-123-2-deploy-GitHub Actions 7-__run_2-zt",
		},
		{
			name:       "gitlab",
			vars:       gitlab,
			wantLabels: map[string]string{"ci": "gitlab", "project": "acme/infra", "run_id": "900", "job": "901"},
			wantKey:    "gitlab-55-900-901-zt",
		},
		{
			name:       "user label and key win",
			vars:       github,
			userLabels: map[string]string{"job": "matrix-1", "team": "net"},
			userKey:    "mine",
			wantLabels: map[string]string{"ci": "github", "repository": "acme/infra", "run_id": "123", "run_attempt": "2", "job": "matrix-1", "team": "net"},
			wantKey:    "mine",
		},
		{
			name:       "unset variables are left out",
			vars:       map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "9"},
			wantLabels: map[string]string{"ci": "github", "run_id": "9"},
			wantKey:    "gha--9-----zt",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			run := detectCI(func(k string) string { return tc.vars[k] })
			if diff := cmp.Diff(tc.wantLabels, run.withLabels(tc.userLabels)); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
			if got := run.idempotencyKey(tc.userKey, "zt"); got != tc.wantKey {
				t.Errorf("key = %q, want %q", got, tc.wantKey)
			}
		})
	}
}

func TestIdempotencyKeyOutsideCIIsFreshPerInvocation(t *testing.T) {
	t.Parallel()
	run := detectCI(func(string) string { return "" })
	a, b := run.idempotencyKey("", "zt"), run.idempotencyKey("", "zt")
	if a == b || !strings.HasPrefix(a, "cli-") {
		t.Errorf("keys %q and %q: want two different cli- keys", a, b)
	}
	if len(run.withLabels(nil)) != 0 {
		t.Errorf("labels outside CI: %v", run.withLabels(nil))
	}
}

func TestLongDerivedKeysFitTheBroker(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": strings.Repeat("r", 300)}
	run := detectCI(func(k string) string { return vars[k] })
	a, b := run.idempotencyKey("", "p1"), run.idempotencyKey("", "p2")
	if len(a) != maxKeyLen || a == b {
		t.Errorf("keys of length %d and %d, distinct=%v; want %d and distinct", len(a), len(b), a != b, maxKeyLen)
	}
}
