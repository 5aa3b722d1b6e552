package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

const serveConfig = `
listen:
  grpc_addr: 127.0.0.1:0
  http_addr: localhost:0
database:
  url: %q
log:
  format: json
upstreams:
  new_central:
    base_url: %q
    admin_key_env: E2E_ADMIN_KEY
  legacy:
    base_url: %q
    token_env: E2E_ADMIN_KEY
    user_id: %q
purposes:
  - name: nc
    upstream: {kind: new_central, service_account_id: %q}
    allow: {api_keys: [ci]}
  - name: legacy
    upstream: {kind: legacy}
    allow: {api_keys: [ci]}
auth:
  api_keys:
    - {name: ci, sha256: %q}
`

// TestBinary runs "broker emulator" and "broker serve" as processes and
// drives a token's life over both APIs.
func TestBinary(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	bin := buildBroker(t)
	dsn := pgtest.NewDatabase(t)
	adminKey := "adm_" + rand.Text()
	apiKey := "ztb_ci_" + rand.Text()

	emu := start(t, bin, []string{emulator.AdminTokenEnv + "=" + adminKey}, false, "emulator", "--addr", "127.0.0.1:0")
	const ready = "emulator listening on "
	emuURL := strings.TrimPrefix(emu.waitLine(t, ctx, func(l string) bool { return strings.HasPrefix(l, ready) }), ready)

	sum := sha256.Sum256([]byte(apiKey))
	cfgPath := filepath.Join(t.TempDir(), "broker.yaml")
	text := fmt.Sprintf(serveConfig, dsn, emuURL, emuURL+"/api/v1", emulator.DefaultLegacyUser, emulator.DefaultServiceAccount, hex.EncodeToString(sum[:]))
	if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	brk := start(t, bin, []string{"E2E_ADMIN_KEY=" + adminKey}, true, "serve", "--config", cfgPath)
	var serving struct {
		Msg  string `json:"msg"`
		GRPC string `json:"grpc"`
		HTTP string `json:"http"`
	}
	brk.waitLine(t, ctx, func(l string) bool {
		return json.Unmarshal([]byte(l), &serving) == nil && serving.Msg == "serving"
	})
	base := "http://" + serving.HTTP
	hc := &http.Client{Transport: &http.Transport{}}
	defer hc.CloseIdleConnections()
	for i := 0; ; i++ {
		if code, _ := do(ctx, hc, http.MethodGet, base+"/readyz", "", nil); code == http.StatusOK {
			break
		}
		if i > 200 {
			t.Fatalf("/readyz never answered 200:\n%s", brk.output())
		}
		select { // a bounded poll: the process gives no other signal
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}

	try := func(scheme, token string) int {
		path := "/api/v2/org"
		if scheme == "token" {
			path = "/api/v1/status"
		}
		code, body := do(ctx, hc, http.MethodGet, emuURL+path, scheme+" "+token, nil)
		if scheme == "token" && code == http.StatusOK && bytes.Contains(body, []byte(`"user":null`)) {
			return http.StatusUnauthorized
		}
		return code
	}

	t.Run("grpc", func(t *testing.T) {
		conn, err := grpc.NewClient(serving.GRPC, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		c := ztbrokerv1.NewTokenBrokerClient(conn)
		actx := metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+apiKey)
		r, err := c.IssueToken(actx, &ztbrokerv1.IssueTokenRequest{Purpose: "nc"})
		if err != nil {
			t.Fatalf("issue: %v", err)
		}
		if code := try(r.GetAuthScheme(), r.GetToken()); code != http.StatusOK {
			t.Fatalf("fresh token: %d", code)
		}
		if _, err := c.RevokeLease(actx, &ztbrokerv1.RevokeLeaseRequest{Id: r.GetLease().GetId()}); err != nil {
			t.Fatalf("revoke: %v", err)
		}
		if code := try(r.GetAuthScheme(), r.GetToken()); code != http.StatusUnauthorized {
			t.Fatalf("revoked token: %d", code)
		}
	})

	t.Run("rest", func(t *testing.T) {
		code, body := do(ctx, hc, http.MethodPost, base+"/v1/purposes/legacy/tokens", "Bearer "+apiKey, []byte(`{"ttl":"300s"}`))
		if code != http.StatusOK {
			t.Fatalf("issue: %d %s", code, body)
		}
		var r struct {
			Token      string `json:"token"`
			AuthScheme string `json:"auth_scheme"`
			Lease      struct {
				ID string `json:"id"`
			} `json:"lease"`
		}
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatal(err)
		}
		if code := try(r.AuthScheme, r.Token); code != http.StatusOK {
			t.Fatalf("fresh token: %d", code)
		}
		if code, body := do(ctx, hc, http.MethodPost, base+"/v1/leases/"+r.Lease.ID+":revoke", "Bearer "+apiKey, []byte(`{}`)); code != http.StatusOK {
			t.Fatalf("revoke: %d %s", code, body)
		}
		if code := try(r.AuthScheme, r.Token); code != http.StatusUnauthorized {
			t.Fatalf("revoked token: %d", code)
		}
	})

	hc.CloseIdleConnections()
	if code := brk.terminate(t, ctx); code != 0 {
		t.Errorf("broker exited %d after SIGTERM:\n%s", code, brk.output())
	}
	if out := brk.output(); strings.Contains(out, apiKey) || strings.Contains(out, adminKey) {
		t.Error("the broker's output contains a secret")
	}
	if code := emu.terminate(t, ctx); code != 0 {
		t.Errorf("emulator exited %d after SIGTERM:\n%s", code, emu.output())
	}
}

func do(ctx context.Context, hc *http.Client, method, url, authz string, body []byte) (int, []byte) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return 0, nil
	}
	if authz != "" {
		req.Header.Set("Authorization", authz)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}
