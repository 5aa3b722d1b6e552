package clientcmd

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestExecStripsTheBrokersCredentials runs exec's command with the
// broker's own credentials in the parent's environment: the command sees
// none of them (only its lease's token) unless --keep-credentials asks.
func TestExecStripsTheBrokersCredentials(t *testing.T) {
	t.Parallel()
	parent := []string{
		"PATH=/usr/local/bin:/usr/bin:/bin",
		"BROKER_API_KEY=" + testAPIKey,
		"BROKER_API_KEY_FILE=/run/secrets/key",
		"BROKER_DEV_API_KEY=dev-admin-key",
		"BROKER_TLS_KEY=/etc/ztbroker/client.key",
		"BROKER_TLS_CERT=/etc/ztbroker/client.crt",
		"ACTIONS_ID_TOKEN_REQUEST_URL=https://runtime/token",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN=runtime-secret",
		"CI_ID_TOKEN=eyJ.gitlab.jwt",
		"BROKER_ADDR=broker:9090",
		"UNRELATED=kept",
	}
	credentials := []string{"BROKER_API_KEY", "BROKER_API_KEY_FILE", "BROKER_DEV_API_KEY", "BROKER_TLS_KEY",
		"ACTIONS_ID_TOKEN_REQUEST_URL", "ACTIONS_ID_TOKEN_REQUEST_TOKEN"}
	for _, tc := range []struct {
		name string
		args []string
		vars map[string]string
		keep bool
		// also are credentials of this invocation only.
		also []string
	}{
		{name: "api key", args: nil},
		{name: "oidc from a variable", vars: map[string]string{"BROKER_API_KEY": "", "BROKER_OIDC": "env:CI_ID_TOKEN", "CI_ID_TOKEN": "eyJ.gitlab.jwt"},
			also: []string{"CI_ID_TOKEN"}},
		{name: "kept when asked", args: []string{"--keep-credentials"}, keep: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var h *harness
			h = newHarness(t, issuingBroker(func() time.Time { return h.clock.Now() }))
			for k, v := range tc.vars {
				h.vars[k] = v
			}
			h.env.Environ = func() []string { return slices.Clone(parent) }
			args := append([]string{"--purpose", "deploy"}, tc.args...)
			args = append(args, "--", "env")
			if code := Exec(context.Background(), args, h.env); code != 0 {
				t.Fatalf("exit %d; stderr %q", code, h.stderr)
			}
			got := map[string]string{}
			for _, line := range strings.Split(h.stdout.String(), "\n") {
				if k, v, ok := strings.Cut(line, "="); ok {
					got[k] = v
				}
			}
			for _, name := range append(tc.also, credentials...) {
				if _, present := got[name]; present != tc.keep {
					t.Errorf("%s in the command's environment: %t, want %t", name, present, tc.keep)
				}
			}
			for _, name := range []string{"BROKER_ADDR", "BROKER_TLS_CERT", "UNRELATED", "PATH"} {
				if _, ok := got[name]; !ok {
					t.Errorf("%s was removed from the command's environment", name)
				}
			}
			if got[envToken] != testToken {
				t.Errorf("%s = %q, want the lease's token", envToken, got[envToken])
			}
		})
	}
}

// TestAPIKeyFromFileOrStdin reads the key from --api-key-file, or from
// the first line of standard input for "-", leaving the rest of the
// input to exec's command; --api-key on the command line works but warns.
func TestAPIKeyFromFileOrStdin(t *testing.T) {
	t.Parallel()
	keyFile := filepath.Join(t.TempDir(), "key")
	if err := os.WriteFile(keyFile, []byte(testAPIKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	warning := "broker: warning: --api-key on the command line is visible to other users of this machine (ps, /proc); " +
		"pass it in BROKER_API_KEY or with --api-key-file instead\n"
	for _, tc := range []struct {
		name       string
		args       []string
		vars       map[string]string
		stdin      string
		wantStdout string
		wantStderr string
	}{
		{name: "file flag", args: []string{"--api-key-file", keyFile}},
		{name: "file from the environment", vars: map[string]string{"BROKER_API_KEY_FILE": keyFile}},
		{name: "standard input", args: []string{"--api-key-file", "-"}, stdin: testAPIKey + "\nfor the command\n", wantStdout: "for the command\n"},
		{name: "command line warns", args: []string{"--api-key", testAPIKey}, wantStderr: warning},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var h *harness
			h = newHarness(t, issuingBroker(func() time.Time { return h.clock.Now() }))
			h.vars["BROKER_API_KEY"] = ""
			for k, v := range tc.vars {
				h.vars[k] = v
			}
			h.env.Stdin = strings.NewReader(tc.stdin)
			args := append([]string{"--purpose", "deploy"}, tc.args...)
			args = append(args, "--", "cat")
			if code := Exec(context.Background(), args, h.env); code != 0 {
				t.Fatalf("exit %d; stderr %q", code, h.stderr)
			}
			if got := h.fake.called("IssueToken")[0].authz; got != "Bearer "+testAPIKey {
				t.Errorf("authorization = %q, want the key", got)
			}
			if got := h.stdout.String(); got != tc.wantStdout {
				t.Errorf("the command read %q from stdin, want %q", got, tc.wantStdout)
			}
			if got := h.stderr.String(); got != tc.wantStderr {
				t.Errorf("stderr = %q, want %q", got, tc.wantStderr)
			}
		})
	}
}

func TestAPIKeyFileProblems(t *testing.T) {
	t.Parallel()
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, []byte("\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want string
		args       []string
		code       int
	}{
		{"empty file", "broker: token issue: --api-key-file " + empty + " holds no key\n", []string{"--api-key-file", empty}, ExitUsage},
		{"both", "broker: token issue: give either --api-key (BROKER_API_KEY) or --api-key-file (BROKER_API_KEY_FILE), not both\n",
			[]string{"--api-key-file", empty}, ExitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var h *harness
			h = newHarness(t, issuingBroker(func() time.Time { return h.clock.Now() }))
			if tc.name != "both" {
				h.vars["BROKER_API_KEY"] = ""
			}
			args := append([]string{"issue", "--purpose", "deploy"}, tc.args...)
			if code := Token(context.Background(), args, h.env); code != tc.code {
				t.Errorf("exit %d, want %d", code, tc.code)
			}
			if got := h.stderr.String(); got != tc.want {
				t.Errorf("stderr = %q, want %q", got, tc.want)
			}
		})
	}
}
