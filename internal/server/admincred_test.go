package server_test

import (
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/seal"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// TestStartRefusesABadAdminKey: the acceptance case — an expired admin
// key stops start-up with a message naming the upstream — and its
// neighbours.
func TestStartRefusesABadAdminKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts []option
		want []string
	}{
		{"expired", []option{withEmulator(emulator.WithAdminKeyLifetime(-time.Minute))},
			[]string{"upstream new_central: ", "the admin key was refused (HTTP 401): it is wrong, deleted or expired"}},
		{"expiring within expiry_minimum", []option{withEmulator(emulator.WithAdminKeyLifetime(30 * time.Minute))},
			[]string{"upstream new_central: admin key ", "within expiry_minimum (1h0m0s): replace it, or set rotate"}},
		{"on an account no purpose uses", []option{withEmulator(emulator.WithAdminServiceAccount("sa-elsewhere"))},
			[]string{"upstream new_central: the admin key is not among the keys of service account(s) " + emulator.DefaultServiceAccount,
				"set admin_service_account_id"}},
		{"an unknown admin account", []option{withNewCentralYAML("    admin_service_account_id: sa-nope\n")},
			[]string{`upstream new_central: reading service account "sa-nope": not found (HTTP 404)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var err error
			setup(t, append(tt.opts, expectStartError(&err))...)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("start-up error %q does not contain %q", err, w)
				}
			}
		})
	}
	// The admin key on its own account is found once named.
	h := setup(t, withEmulator(emulator.WithAdminServiceAccount("sa-admin")), withNewCentralYAML("    admin_service_account_id: sa-admin\n"))
	if _, err := h.tb.IssueToken(as(testContext(t), h.keyA), &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC}); err != nil {
		t.Errorf("issue with the admin key on its own account: %v", err)
	}
}

// TestAdminKeyExpiryIsVisible: the gauge alert rules watch, the readiness
// detail and ListUpstreams all show a key inside its warning margin.
func TestAdminKeyExpiryIsVisible(t *testing.T) {
	t.Parallel()
	h := setup(t, withEmulator(emulator.WithAdminKeyLifetime(72*time.Hour)))
	ctx := testContext(t)
	status, _, body, err := h.raw(ctx, http.MethodGet, "/readyz", "", nil)
	if err != nil || status != http.StatusOK ||
		!regexp.MustCompile(`(?m)^upstream new_central: admin key [0-9a-f]+ expires in 7[12]h[0-9]+m0s, inside the 168h0m0s warning margin$`).Match(body) {
		t.Errorf("/readyz = %d %q, %v; want ready with the warning", status, body, err)
	}
	_, _, metrics, err := h.raw(ctx, http.MethodGet, "/metrics", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ztbroker_upstream_credential_expiry_seconds\{upstream="new_central"\} (\S+)$`).FindSubmatch(metrics)
	if m == nil {
		t.Fatalf("no expiry gauge in /metrics:\n%s", metrics)
	}
	if v, err := strconv.ParseFloat(string(m[1]), 64); err != nil || v > 72*3600 || v < 71*3600 {
		t.Errorf("expiry gauge = %s, want just under 259200 (72h)", m[1])
	}
	if strings.Contains(string(metrics), `ztbroker_upstream_credential_expiry_seconds{upstream="legacy"}`) {
		t.Error("a Legacy token has no expiry, and no gauge")
	}
	resp, err := h.admin.ListUpstreams(as(ctx, h.keyRoot), &ztbrokerv1.ListUpstreamsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*ztbrokerv1.UpstreamCredential{}
	for _, u := range resp.GetUpstreams() {
		got[u.GetUpstream()] = u
	}
	nc, lg := got["new_central"], got["legacy"]
	if nc.GetKeyId() != h.emu.AdminKeyID() || nc.GetWarning() == "" || nc.GetExpireTime() == nil || nc.GetSource() != "config" {
		t.Errorf("new_central = %v", nc)
	}
	if lg.GetKeyId() != emulator.DefaultLegacyAdminTokenName || lg.GetExpireTime() != nil || lg.GetAccount() != emulator.DefaultLegacyUser {
		t.Errorf("legacy = %v", lg)
	}
	if _, err := h.admin.ListUpstreams(as(ctx, h.keyA), &ztbrokerv1.ListUpstreamsRequest{}); err == nil {
		t.Error("a non-admin listed the upstreams")
	}
}

// TestRotateUpstreamKeyOverREST rotates through the gateway, then mints
// with the new key; the new key's secret is nowhere but sealed in the
// database.
func TestRotateUpstreamKeyOverREST(t *testing.T) {
	t.Parallel()
	h := setup(t)
	ctx := testContext(t)
	for _, tt := range []struct {
		key, upstream string
		status        int
	}{
		{h.keyA, "new_central", http.StatusForbidden},
		{h.keyRoot, "nope", http.StatusNotFound},
		{h.keyRoot, "legacy", http.StatusBadRequest},
	} {
		if status, _, body, err := h.raw(ctx, http.MethodPost, "/v1/admin/upstreams/"+tt.upstream+":rotateKey", tt.key, []byte(`{}`)); err != nil || status != tt.status {
			t.Errorf("rotate %s = %d %s, %v; want %d", tt.upstream, status, body, err, tt.status)
		}
	}
	status, _, body, err := h.raw(ctx, http.MethodPost, "/v1/admin/upstreams/new_central:rotateKey", h.keyRoot, []byte(`{"reason":"drill"}`))
	if err != nil || status != http.StatusOK {
		t.Fatalf("rotate = %d %s, %v", status, body, err)
	}
	var resp struct {
		Rotation struct {
			ID       string `json:"id"`
			State    string `json:"state"`
			OldKeyID string `json:"old_key_id"`
			NewKeyID string `json:"new_key_id"`
		} `json:"rotation"`
	}
	if err := json.Unmarshal(body, &resp); err != nil || resp.Rotation.State != "switched" || resp.Rotation.OldKeyID != h.emu.AdminKeyID() {
		t.Fatalf("rotation %s: %v", body, err)
	}
	issued, err := h.tb.IssueToken(as(ctx, h.keyA), &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC})
	if err != nil {
		t.Fatalf("issue after the rotation: %v", err)
	}
	if h.emu.TryNewCentralToken(ctx, "Bearer", issued.GetToken()) != http.StatusOK {
		t.Error("a token minted with the rotated key does not work")
	}
	var actions []string
	rows, err := h.db.Query(ctx, `SELECT action FROM audit_events WHERE action LIKE '%key%' ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var a string
		_ = rows.Scan(&a)
		actions = append(actions, a)
	}
	if got := strings.Join(actions, ","); !strings.Contains(got, "admin_key_rotation_started,admin_key_rotated,admin_rotate_upstream_key") {
		t.Errorf("audit actions %s", got)
	}
	// The new key, unsealed with the seal key, appears in no log and in
	// no database column but its sealed form.
	var sealed []byte
	if err := h.db.QueryRow(ctx, `SELECT sealed FROM upstream_credentials WHERE upstream = 'new_central'`).Scan(&sealed); err != nil {
		t.Fatal(err)
	}
	key, err := base64.StdEncoding.DecodeString(h.sealKey)
	if err != nil {
		t.Fatal(err)
	}
	s, err := seal.New(key)
	if err != nil {
		t.Fatal(err)
	}
	secret, err := s.Open(sealed, "ztbroker/upstream-credential/new_central/"+resp.Rotation.NewKeyID)
	if err != nil {
		t.Fatalf("unseal: %v", err)
	}
	if leaks := containsAny(h.logs.String(), []string{string(secret), h.ncAdminKey}); len(leaks) > 0 {
		t.Error("an admin key appears in the logs")
	}
	var n int
	if err := h.db.QueryRow(ctx, `SELECT count(*) FROM upstream_rotations r, audit_events a
		WHERE r::text LIKE '%' || $1 || '%' OR a::text LIKE '%' || $1 || '%'`, string(secret)).Scan(&n); err != nil || n != 0 {
		t.Errorf("the new admin key appears in %d rows (%v)", n, err)
	}
}

// TestSIGHUPReloadsTheAdminKeyFile: a key file replaced and signalled is
// taken up without a restart.
func TestSIGHUPReloadsTheAdminKeyFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "nc-admin-key")
	hup := make(chan os.Signal, 1)
	var h *harness
	// The emulator's token is written before the server reads the file.
	h = setup(t, withSIGHUP(hup), withKeyFile(path))
	ctx := testContext(t)
	// An operator makes a new key, installs it, and signals.
	status, body, err := h.emu.Call(ctx, http.MethodPost, "/api/v2/service-account/"+emulator.DefaultServiceAccount+"/api-key",
		"Bearer "+h.ncAdminKey, `{"expires":"2099-01-01T00:00:00Z","description":"installed by hand"}`)
	if err != nil || status != http.StatusOK {
		t.Fatalf("create key = %d %s, %v", status, body, err)
	}
	var k struct{ ID, Key string }
	_ = json.Unmarshal(body, &k)
	if err := os.WriteFile(path, []byte(k.Key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hup <- syscall.SIGHUP
	for {
		resp, err := h.admin.ListUpstreams(as(ctx, h.keyRoot), &ztbrokerv1.ListUpstreamsRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetUpstreams()[0].GetKeyId() == k.ID {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the new key was not taken up; logs:\n%s", h.logs.String())
		}
		waitBriefly(ctx)
	}
	if !strings.Contains(h.logs.String(), "SIGHUP: re-reading upstream credential files") {
		t.Error("the SIGHUP was not seen")
	}
	if _, err := h.tb.IssueToken(as(ctx, h.keyA), &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC}); err != nil {
		t.Errorf("issue with the reloaded key: %v", err)
	}
}

// TestKeyExpiryOnCentralsClock: with Central's clock ten minutes behind,
// a key's expiry is sent on Central's clock, so it lasts as long as the
// broker meant, not ten minutes more; and the skew is exported.
func TestKeyExpiryOnCentralsClock(t *testing.T) {
	t.Parallel()
	h := setup(t, withEmulator(emulator.WithClockOffset(-10*time.Minute)))
	ctx := testContext(t)
	resp, err := h.tb.IssueToken(as(ctx, h.keyA), &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC})
	if err != nil {
		t.Fatal(err)
	}
	_, _, upstreamExpire := h.dbLease(t, resp.GetLease().GetId())
	var sent time.Time
	for _, k := range h.emu.Tokens().ServiceAccounts[0].Keys {
		if k.Description == "ztbroker-"+purposeNC+"-"+resp.GetLease().GetId() {
			sent = k.Expires
		}
	}
	// The broker's record is on its clock, Central's key on Central's.
	if d := upstreamExpire.Sub(sent) - 10*time.Minute; d < -2*time.Second || d > 2*time.Second {
		t.Errorf("lease upstream expiry %s, key expires %s on Central: want 10m apart", upstreamExpire, sent)
	}
	_, _, metrics, err := h.raw(ctx, http.MethodGet, "/metrics", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ztbroker_upstream_clock_skew_seconds\{upstream="new_central"\} (\S+)$`).FindSubmatch(metrics)
	if m == nil {
		t.Fatal("no clock skew gauge")
	}
	if v, _ := strconv.ParseFloat(string(m[1]), 64); v > -599 || v < -601 {
		t.Errorf("clock skew gauge = %s, want about -600", m[1])
	}
}

// TestProxyFollowsTheRotatedKey: a proxy lease issued before a rotation
// keeps working after the old admin key is deleted: the proxy forwards
// with whatever key is current.
func TestProxyFollowsTheRotatedKey(t *testing.T) {
	t.Parallel()
	h := setupScoped(t, withNewCentralYAML("    credential_poll_interval: 1s\n    rotate: {before: 1h, lifetime: 30d, grace: 2s}\n"))
	ctx := testContext(t)
	issued, err := h.tb.IssueToken(as(ctx, h.keyA), &ztbrokerv1.IssueTokenRequest{Purpose: purposeScoped})
	if err != nil {
		t.Fatal(err)
	}
	if status, body := h.zt(ctx, issued, http.MethodGet, "/api/v2/network/"+netA, ""); status != http.StatusOK {
		t.Fatalf("proxied GET before the rotation = %d %s", status, body)
	}
	if _, err := h.admin.RotateUpstreamKey(as(ctx, h.keyRoot), &ztbrokerv1.RotateUpstreamKeyRequest{Upstream: "new_central"}); err != nil {
		t.Fatal(err)
	}
	for {
		var state string
		if err := h.db.QueryRow(ctx, `SELECT state FROM upstream_rotations`).Scan(&state); err != nil {
			t.Fatal(err)
		}
		if state == "done" {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the rotation did not finish: %s", state)
		}
		waitBriefly(ctx)
	}
	if h.emu.TryNewCentralToken(ctx, "Bearer", h.ncAdminKey) != http.StatusUnauthorized {
		t.Fatal("the old admin key still works after the rotation")
	}
	if status, body := h.zt(ctx, issued, http.MethodGet, "/api/v2/network/"+netA, ""); status != http.StatusOK {
		t.Errorf("proxied GET after the old key was deleted = %d %s", status, body)
	}
}

// TestReadyzFailsOnceTheAdminKeyExpired runs the server and the emulator
// on the test's clock with an admin key three days from expiry: start-up
// logs the warning and /readyz stays ready with it; once the clock passes
// the key's expiry, /readyz answers 503 naming the upstream.
func TestReadyzFailsOnceTheAdminKeyExpired(t *testing.T) {
	t.Parallel()
	clk := newClock()
	h := setup(t, withNow(clk.Now), withEmulator(emulator.WithClock(clk.Now), emulator.WithAdminKeyLifetime(72*time.Hour)))
	ctx := testContext(t)
	want := `"level":"WARN","msg":"the admin key expires soon; replace it or set rotate","worker":"adminkey","upstream":"new_central","key_id":"` + h.emu.AdminKeyID() + `"`
	if !strings.Contains(h.logs.String(), want) {
		t.Errorf("start-up log lacks %s:\n%s", want, h.logs.String())
	}
	if status, _, body, err := h.raw(ctx, http.MethodGet, "/readyz", "", nil); err != nil || status != http.StatusOK {
		t.Fatalf("/readyz three days before expiry = %d %q, %v; want ready", status, body, err)
	}
	clk.Advance(72*time.Hour + time.Minute)
	status, _, body, err := h.raw(ctx, http.MethodGet, "/readyz", "", nil)
	if err != nil || status != http.StatusServiceUnavailable || !strings.Contains(string(body), "upstream new_central:") {
		t.Errorf("/readyz after the admin key expired = %d %q, %v; want 503 naming new_central", status, body, err)
	}
	t.Logf("/readyz after expiry: %s", body)
}
