package clientcmd

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// keyOf derives a key with a test's own state directory, failing on a
// warning.
func keyOf(t *testing.T, run ciRun, user, purpose string) stepKey {
	t.Helper()
	return run.idempotencyKey(user, purpose, func(err error) { t.Fatalf("warning: %v", err) })
}

var nonceSuffix = regexp.MustCompile(`-[0-9a-f]{32}$`)

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
			vars := map[string]string{"RUNNER_TEMP": t.TempDir(), "TMPDIR": t.TempDir()}
			for k, v := range tc.vars {
				vars[k] = v
			}
			run := detectCI(func(k string) string { return vars[k] })
			if diff := cmp.Diff(tc.wantLabels, run.withLabels(tc.userLabels)); diff != "" {
				t.Errorf("labels (-want +got):\n%s", diff)
			}
			got := keyOf(t, run, tc.userKey, "zt").key
			if tc.userKey == "" {
				// Derived keys end in the step's random part.
				if !nonceSuffix.MatchString(got) {
					t.Fatalf("key %q has no random part", got)
				}
				got = nonceSuffix.ReplaceAllString(got, "")
			}
			if got != tc.wantKey {
				t.Errorf("key = %q, want %q", got, tc.wantKey)
			}
		})
	}
}

func TestIdempotencyKeyOutsideCIIsFreshPerInvocation(t *testing.T) {
	t.Parallel()
	run := detectCI(func(string) string { return "" })
	a, b := keyOf(t, run, "", "zt").key, keyOf(t, run, "", "zt").key
	if a == b || !strings.HasPrefix(a, "cli-") {
		t.Errorf("keys %q and %q: want two different cli- keys", a, b)
	}
	if len(run.withLabels(nil)) != 0 {
		t.Errorf("labels outside CI: %v", run.withLabels(nil))
	}
}

func TestLongDerivedKeysFitTheBroker(t *testing.T) {
	t.Parallel()
	vars := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": strings.Repeat("r", 300), "RUNNER_TEMP": t.TempDir()}
	run := detectCI(func(k string) string { return vars[k] })
	a, b := keyOf(t, run, "", "p1").key, keyOf(t, run, "", "p2").key
	if len(a) != maxKeyLen || a == b {
		t.Errorf("keys of length %d and %d, distinct=%v; want %d and distinct", len(a), len(b), a != b, maxKeyLen)
	}
}

// TestDerivedKeyRandomPerStep: the key cannot be rebuilt from run
// metadata, yet every invocation of one step (a retry runs the CLI anew)
// finds the same one until exec forgets it; another step or another run
// attempt, and another job on a GitLab shell runner, never does.
func TestDerivedKeyRandomPerStep(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, stateVar string
		vars           map[string]string
		otherStep      [2]string
	}{
		{"github", "RUNNER_TEMP", map[string]string{
			"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/infra", "GITHUB_RUN_ID": "1",
			"GITHUB_RUN_ATTEMPT": "1", "GITHUB_JOB": "deploy", "GITHUB_ACTION": "__run",
		}, [2]string{"GITHUB_ACTION", "__run_2"}},
		{"gitlab", "TMPDIR", map[string]string{
			"GITLAB_CI": "true", "CI_PROJECT_ID": "5", "CI_PIPELINE_ID": "6", "CI_JOB_ID": "7",
		}, [2]string{"CI_JOB_ID", "8"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			env := func(over ...string) ciRun {
				vars := map[string]string{tc.stateVar: dir}
				for k, v := range tc.vars {
					vars[k] = v
				}
				for i := 0; i+1 < len(over); i += 2 {
					vars[over[i]] = over[i+1]
				}
				return detectCI(func(k string) string { return vars[k] })
			}
			first := keyOf(t, env(), "", "zt")
			retry := keyOf(t, env(), "", "zt")
			if first.key != retry.key {
				t.Errorf("a retry of the step derived %q, not the first invocation's %q", retry.key, first.key)
			}
			if other := keyOf(t, env(tc.otherStep[0], tc.otherStep[1]), "", "zt"); other.key == first.key {
				t.Errorf("%s=%s derived the same key %q", tc.otherStep[0], tc.otherStep[1], other.key)
			}
			// Another directory (a fresh job's $RUNNER_TEMP, another
			// runner) holds no nonce: the same metadata gives another key.
			elsewhere := map[string]string{tc.stateVar: t.TempDir()}
			for k, v := range tc.vars {
				elsewhere[k] = v
			}
			if k := keyOf(t, detectCI(func(k string) string { return elsewhere[k] }), "", "zt"); k.key == first.key {
				t.Errorf("a new state directory derived the same key %q", k.key)
			}
			entries, err := os.ReadDir(filepath.Join(dir, nonceDirName))
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				info, err := e.Info()
				if err != nil {
					t.Fatal(err)
				}
				if info.Mode().Perm()&0o077 != 0 {
					t.Errorf("%s has mode %v; others may read it", e.Name(), info.Mode())
				}
			}
			first.forget()
			if next := keyOf(t, env(), "", "zt"); next.key == first.key {
				t.Errorf("after forget the step derived the same key %q", next.key)
			}
		})
	}
}

// TestDerivedKeyWithoutStateFallsBack: when the nonce cannot be kept the
// CLI says so and uses a key of its own, never the guessable metadata.
func TestDerivedKeyWithoutStateFallsBack(t *testing.T) {
	t.Parallel()
	blocked := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocked, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_RUN_ID": "1", "RUNNER_TEMP": blocked}
	run := detectCI(func(k string) string { return vars[k] })
	var warned error
	a := run.idempotencyKey("", "zt", func(err error) { warned = err })
	b := run.idempotencyKey("", "zt", func(error) {})
	if warned == nil || a.key == b.key || !nonceSuffix.MatchString(a.key) {
		t.Errorf("keys %q, %q with warning %v; want two random-suffixed keys and a warning", a.key, b.key, warned)
	}
}
