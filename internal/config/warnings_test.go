package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/config"
)

// TestWarnings: a valid config that exposes plaintext listeners, keeps a
// secret in a file others can read, or uses a short API key loads, with
// one warning each; the same config done right has none.
func TestWarnings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	loose := filepath.Join(dir, "admin-loose")
	tight := filepath.Join(dir, "admin-tight")
	for name, mode := range map[string]os.FileMode{loose: 0o644, tight: 0o600} {
		if err := os.WriteFile(name, []byte("central-admin-key"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(name, mode); err != nil {
			t.Fatal(err)
		}
	}
	env := map[string]string{"SHORT": "short-key", "LONG": strings.Repeat("k", 32)}
	load := func(listen, adminFile, keyEnv string) []string {
		t.Helper()
		d := doc(map[string]string{
			"listen":    listen,
			"upstreams": "\n  - {name: new_central, kind: new_central, admin_key_file: " + adminFile + "}",
			"auth":      "\n  api_keys: [{name: ci, key_env: " + keyEnv + "}]",
		})
		c, err := config.ParseWith("b.yaml", []byte(d), config.Options{LookupEnv: fakeEnv(env)})
		if err != nil {
			t.Fatal(err)
		}
		return c.Warnings()
	}
	got := load("{grpc_addr: 0.0.0.0:9090, http_addr: ':8080'}", loose, "SHORT")
	want := []string{
		"listen.grpc_addr: 0.0.0.0:9090 serves without TLS on an address other than loopback; bearer credentials and tokens cross the network in the clear (set listen.tls, or terminate TLS in front of the broker)",
		"listen.http_addr: :8080 serves without TLS on an address other than loopback; bearer credentials and tokens cross the network in the clear (set listen.tls, or terminate TLS in front of the broker)",
		"upstreams[0].admin_key_file: " + loose + " is readable by others (mode -rw-r--r--); make it 0600 or 0400, owned by the broker's user",
		`auth.api_keys[0]: key "ci" is 9 bytes; use at least 32 random bytes`,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("warnings (-want +got):\n%s", d)
	}
	if got := load("{grpc_addr: 127.0.0.1:9090, http_addr: 'localhost:8080'}", tight, "LONG"); len(got) != 0 {
		t.Errorf("a careful config warns: %q", got)
	}
}
