package configcmd_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/ztbroker/ztbroker/internal/cli/cmdtree"
	"github.com/ztbroker/ztbroker/internal/cli/configcmd"
)

func run(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	root := &cobra.Command{Use: "broker"}
	root.AddCommand(configcmd.Command(func(k string) string { return env[k] }))
	var out, errOut strings.Builder
	code = cmdtree.Run(context.Background(), root, append([]string{"config"}, args...), &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestInitWritesWhatCheckAccepts runs init for every upstream and OIDC
// preset, then check on the result with the secrets it names set, and
// looks for each secret in everything check printed.
func TestInitWritesWhatCheckAccepts(t *testing.T) {
	t.Parallel()
	for _, upstream := range []string{"new-central", "legacy"} {
		for _, oidc := range []string{"", "github", "gitlab", "kubernetes"} {
			t.Run(upstream+"/"+oidc, func(t *testing.T) {
				t.Parallel()
				dir := t.TempDir()
				cfg, seal, key := filepath.Join(dir, "broker.yaml"), filepath.Join(dir, "seal.key"), filepath.Join(dir, "ci.key")
				args := []string{"init", "--upstream", upstream, "--seal-key-file", seal, "--api-key-file", key, "--out", cfg}
				if oidc != "" {
					args = append(args, "--oidc", oidc)
				}
				if code, _, stderr := run(t, nil, args...); code != 0 {
					t.Fatalf("init exited %d: %s", code, stderr)
				}
				secrets := map[string]string{
					"BROKER_DATABASE_URL":  "postgres://broker:db-password-3f9@localhost/ztbroker",
					"ZT_CENTRAL_ADMIN_KEY": "central-admin-secret-41c2",
					"ZT_LEGACY_TOKEN":      "legacy-token-secret-77ad",
				}
				for _, f := range []string{seal, key} {
					fi, err := os.Stat(f)
					if err != nil {
						t.Fatal(err)
					}
					if fi.Mode().Perm() != 0o600 {
						t.Errorf("%s has mode %v, want 0600", f, fi.Mode().Perm())
					}
					b, _ := os.ReadFile(f)
					secrets[f] = strings.TrimSpace(string(b))
				}
				text, _ := os.ReadFile(cfg)
				if strings.Contains(string(text), secrets[key]) {
					t.Errorf("the configuration holds the API key itself")
				}

				code, stdout, stderr := run(t, secrets, "check", cfg)
				if code != 0 {
					t.Fatalf("check exited %d: %s\n%s", code, stderr, text)
				}
				wants := []string{"idempotency_sealing: true", "grpc_addr: 127.0.0.1:9090", "revoke_batch_size: 50"}
				if upstream == "new-central" {
					wants = append(wants, "create_key: /api/v2/service-account/{id}/api-key", "new_central: true")
				} else {
					wants = append(wants, "create_token: /user/{id}/token", "status: /status", "legacy: true")
				}
				if oidc != "" {
					wants = append(wants, "name: "+oidc)
				}
				for _, w := range wants {
					if !strings.Contains(stdout, w) {
						t.Errorf("check output lacks %q:\n%s", w, stdout)
					}
				}
				for name, s := range secrets {
					if s != "" && strings.Contains(stdout+stderr, s) {
						t.Errorf("check printed the secret of %s", name)
					}
				}
			})
		}
	}
}

func TestInitNeverOverwrites(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	seal := filepath.Join(dir, "seal.key")
	if err := os.WriteFile(seal, []byte("in use\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, stdout, stderr := run(t, nil, "init", "--seal-key-file", seal)
	if code != 2 || stdout != "" || !strings.Contains(stderr, "exists") {
		t.Errorf("exit %d, stdout %q, stderr %q; want 2, nothing written and a refusal", code, stdout, stderr)
	}
	if b, _ := os.ReadFile(seal); string(b) != "in use\n" {
		t.Errorf("the seal key was replaced")
	}
}

func TestCheckNamesTheProblem(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "broker.yaml")
	if code, _, stderr := run(t, nil, "init", "--out", cfg); code != 0 {
		t.Fatalf("init: %s", stderr)
	}
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"secrets missing", nil, []string{"check", cfg}, "ZT_CENTRAL_ADMIN_KEY"},
		{"no file named", nil, []string{"check"}, "name one configuration file"},
		{"bad flag", nil, []string{"init", "--upstream", "v3"}, `--upstream "v3" is not new-central or legacy`},
		{"bad oidc", nil, []string{"init", "--oidc", "okta"}, `--oidc "okta" is not github, gitlab or kubernetes`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, _, stderr := run(t, tc.env, tc.args...)
			if code != 2 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want 2 and %q", code, stderr, tc.want)
			}
		})
	}
	// --skip-secrets checks the same file where the secrets are not.
	if code, _, stderr := run(t, nil, "check", "--skip-secrets", cfg); code != 0 {
		t.Errorf("check --skip-secrets exited %d: %s", code, stderr)
	}
}
