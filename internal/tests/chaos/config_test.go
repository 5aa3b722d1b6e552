package chaos

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// Purposes every test config defines, one per upstream API.
const (
	purposeNC     = "chaos-nc"
	purposeLegacy = "chaos-legacy"
)

// configText is a complete serve configuration. Listeners take port 0 so
// restarts and replicas never collide; the worker timings are short so a
// crash is recovered from in seconds. Upstream keys outlive their leases
// by an hour (max_ttl) plus the default skew, so an upstream expiry can
// never hide a token the broker failed to delete.
const configText = `
listen:
  grpc_addr: 127.0.0.1:0
  http_addr: 127.0.0.1:0
database:
  url_env: CHAOS_DATABASE_URL
  max_conns: 8
log:
  format: json
  level: info
upstreams:
  new_central:
    base_url: %[1]q
    admin_key_env: CHAOS_UPSTREAM_KEY
    rate_limit: 1000
    timeout: 2s
%[8]s
  legacy:
    base_url: %[2]q
    token_env: CHAOS_UPSTREAM_KEY
    user_id: %[3]q
    rate_limit: 1000
    timeout: 2s
purposes:
  - name: %[4]s
    description: New Central keys under chaos.
    default_ttl: 2s
    max_ttl: 1h
    min_ttl: 1s
    upstream: {kind: new_central, service_account_id: %[5]q}
    allow: {api_keys: [chaos]}
  - name: %[6]s
    description: Legacy tokens under chaos.
    default_ttl: 2s
    max_ttl: 1h
    min_ttl: 1s
    upstream: {kind: legacy}
    allow: {api_keys: [chaos]}
auth:
  api_keys:
    - name: chaos
      sha256: %[7]q
  admins: ["api_key:chaos"]
workers:
  revoke_max_attempts: 30
  revoke_backoff_base: 100ms
  revoke_backoff_max: 1s
  revoke_failed_retry_interval: 1s
  pending_timeout: 2s
  reconcile_interval: 1s
  claim_timeout: 3s
%[9]s
`

// brokerConfig writes a config pointing at the emulator and returns its
// path, the environment carrying its secrets, and the caller API key.
func brokerConfig(t *testing.T, emuURL, emuToken, dsn string) (path string, env []string, apiKey string) {
	t.Helper()
	return brokerConfigWith(t, emuURL, emuToken, dsn, "", "")
}

// brokerConfigWith is brokerConfig with lines added under
// upstreams.new_central (indented four spaces) and top-level sections at
// the end.
func brokerConfigWith(t *testing.T, emuURL, emuToken, dsn, ncExtra, extra string) (path string, env []string, apiKey string) {
	t.Helper()
	apiKey = "ztb_chaos_" + rand.Text()
	sum := sha256.Sum256([]byte(apiKey))
	text := fmt.Sprintf(configText, emuURL, emuURL+"/api/v1", emulator.DefaultLegacyUser,
		purposeNC, emulator.DefaultServiceAccount, purposeLegacy, hex.EncodeToString(sum[:]), ncExtra, extra)
	path = filepath.Join(t.TempDir(), "broker.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	env = []string{"CHAOS_DATABASE_URL=" + dsn, "CHAOS_UPSTREAM_KEY=" + emuToken}
	return path, env, apiKey
}
