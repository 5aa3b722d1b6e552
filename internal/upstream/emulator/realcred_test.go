package emulator_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator/emulatortest"
)

// settable is a clock a test moves by hand.
type settable struct {
	mu sync.Mutex
	t  time.Time
}

func (c *settable) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *settable) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestAdminKeyIsARealKey(t *testing.T) {
	t.Parallel()
	clock := &settable{t: time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)}
	e := emulatortest.Start(t, emulator.WithClock(clock.Now), emulator.WithAdminKeyLifetime(48*time.Hour))
	auth := "Bearer " + e.AdminToken

	// It is listed on its service account with its expiry, like any key.
	status, body := call(t, e, http.MethodGet, "/api/v2/service-account/"+emulator.DefaultServiceAccount, auth, "")
	keys, _ := body["apiKeys"].([]any)
	if status != 200 || len(keys) != 1 {
		t.Fatalf("service account = %d %v, want the admin key listed", status, body)
	}
	k, _ := keys[0].(map[string]any)
	if k["expires"] != "2026-08-03T12:00:00Z" || k["description"] != emulator.DefaultAdminKeyDescription {
		t.Errorf("admin key = %v, want its description and an expiry 48h on", k)
	}
	// A Legacy token too, on the first user.
	status, body = call(t, e, http.MethodGet, "/api/v1/user/"+emulator.DefaultLegacyUser, "token "+e.AdminToken, "")
	if status != 200 || fmt.Sprint(body["tokens"]) != "["+emulator.DefaultLegacyAdminTokenName+"]" {
		t.Errorf("legacy user = %d %v, want the admin token listed", status, body)
	}

	// It stops working when it expires; the control token still drives
	// the emulator.
	clock.Add(48 * time.Hour)
	if got := e.TryNewCentralToken(context.Background(), "Bearer", e.AdminToken); got != http.StatusUnauthorized {
		t.Errorf("expired admin key = %d, want 401", got)
	}
	if _, err := e.Admin().Tokens(context.Background()); err != nil {
		t.Errorf("control API after the admin key expired: %v", err)
	}

	// Deleted, the Legacy one stops working at once.
	if status, _ := call(t, e, http.MethodDelete, "/api/v1/user/"+emulator.DefaultLegacyUser+"/token/"+emulator.DefaultLegacyAdminTokenName, "token "+e.AdminToken, ""); status != 200 {
		t.Fatalf("delete the Legacy admin token = %d", status)
	}
	if got := e.TryLegacyToken(context.Background(), "token", e.AdminToken); got != http.StatusUnauthorized {
		t.Errorf("deleted Legacy admin token = %d, want 401", got)
	}
}

func TestAdminKeyOnItsOwnAccount(t *testing.T) {
	t.Parallel()
	e := emulatortest.Start(t, emulator.WithAdminServiceAccount("sa-admin"))
	status, body := call(t, e, http.MethodGet, "/api/v2/service-account/sa-admin", "Bearer "+e.AdminToken, "")
	if keys, _ := body["apiKeys"].([]any); status != 200 || len(keys) != 1 {
		t.Errorf("admin account = %d %v, want it holding the admin key", status, body)
	}
	if status, body = call(t, e, http.MethodGet, "/api/v2/service-account/"+emulator.DefaultServiceAccount, "Bearer "+e.AdminToken, ""); status != 200 {
		t.Errorf("lease account = %d %v", status, body)
	} else if keys, _ := body["apiKeys"].([]any); len(keys) != 0 {
		t.Errorf("lease account holds %d keys, want none", len(keys))
	}
}

// TestDateHeader checks every API answer carries the emulator's own clock,
// offset as configured, which is also the clock keys expire on.
func TestDateHeader(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	e := emulatortest.Start(t, emulator.WithClock(func() time.Time { return now }), emulator.WithClockOffset(-10*time.Minute))
	for _, path := range []string{"/api/v2/org", "/api/v2/nonexistent"} {
		resp := get(t, e, path, "Bearer "+e.AdminToken)
		if got := resp.Header.Get("Date"); got != "Sat, 01 Aug 2026 11:50:00 GMT" {
			t.Errorf("%s: Date = %q, want the offset clock", path, got)
		}
	}
	if got := e.Now(); !got.Equal(now.Add(-10 * time.Minute)) {
		t.Errorf("Now = %s, want the offset clock", got)
	}
	// A key expiring within the offset is already expired on Central.
	path := "/api/v2/service-account/" + emulator.DefaultServiceAccount + "/api-key"
	body := fmt.Sprintf(`{"expires":%q}`, now.Add(-5*time.Minute).Format(time.RFC3339))
	if status, _ := call(t, e, http.MethodPost, path, "Bearer "+e.AdminToken, body); status != 200 {
		t.Errorf("a key valid on the emulator's clock = %d, want 200", status)
	}
}

// TestLeaseKeyMayDoWhatAnAdminMay shows a minted key creating its own key
// and a service account, as a real service account's key can.
func TestLeaseKeyMayDoWhatAnAdminMay(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := emulatortest.Start(t)
	m, err := e.NewCentralIssuer(t).Mint(ctx, "ztb-x", e.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	auth := "Bearer " + m.Secret
	keyPath := "/api/v2/service-account/" + emulator.DefaultServiceAccount + "/api-key"
	if status, body := call(t, e, http.MethodPost, keyPath, auth, `{"expires":"2999-01-01T00:00:00Z","description":"mine"}`); status != 200 || body["key"] == "" {
		t.Errorf("lease key creating a key = %d %v, want 200 with a secret", status, body)
	}
	saPath := "/api/v2/org/" + emulator.DefaultOrgID + "/service-account"
	if status, body := call(t, e, http.MethodPost, saPath, auth, `{"id":"sa-mine","name":"mine"}`); status != 200 || body["id"] != "sa-mine" {
		t.Errorf("lease key creating a service account = %d %v", status, body)
	}
	status, body := call(t, e, http.MethodGet, saPath, auth, "")
	items, _ := body["items"].([]any)
	if status != 200 || len(items) != 2 {
		t.Errorf("service accounts = %d %v, want two", status, body)
	}
	for _, tt := range []struct {
		method, path, body string
		want               int
	}{
		{http.MethodPost, saPath, `{"id":"sa-mine","name":"again"}`, 400},
		{http.MethodPost, saPath, `{"name":"no id"}`, 400},
		{http.MethodGet, "/api/v2/org/another-org/service-account", "", 403},
		{http.MethodPost, "/api/v2/org/another-org/service-account", `{"id":"x","name":"x"}`, 403},
		{http.MethodGet, saPath, "", 401},
	} {
		a := auth
		if tt.want == 401 {
			a = "Bearer nope"
		}
		if status, _ := call(t, e, tt.method, tt.path, a, tt.body); status != tt.want {
			t.Errorf("%s %s %s = %d, want %d", tt.method, tt.path, tt.body, status, tt.want)
		}
	}
}

func TestRateHeadersOnEveryAnswer(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 8, 6, 20, 53, 45, 0, time.UTC)
	e := emulatortest.Start(t, emulator.WithClock(func() time.Time { return now }), emulator.WithRateLimit(20))
	resp := get(t, e, "/api/v2/org", "Bearer "+e.AdminToken)
	if resp.Header.Get("X-Ratelimit-Limit") != "20" || resp.Header.Get("X-Ratelimit-Remaining") != "19" ||
		resp.Header.Get("X-Ratelimit-Reset") != "Tue, 06 Aug 2024 20:53:46 UTC" || resp.Header.Get("Retry-After") != "" {
		t.Errorf("headers = %v", resp.Header)
	}
}

// TestLastUsed runs both ways: Central may stamp lastUsed on every call or
// not at all (in batches, later); it is not documented.
func TestLastUsed(t *testing.T) {
	t.Parallel()
	for _, live := range []bool{true, false} {
		t.Run(fmt.Sprint("live=", live), func(t *testing.T) {
			t.Parallel()
			e := emulatortest.Start(t, emulator.WithLastUsed(live))
			_, body := call(t, e, http.MethodGet, "/api/v2/service-account/"+emulator.DefaultServiceAccount, "Bearer "+e.AdminToken, "")
			keys, _ := body["apiKeys"].([]any)
			k, _ := keys[0].(map[string]any)
			if _, stamped := k["lastUsed"]; stamped != live {
				t.Errorf("lastUsed present = %v, want %v", stamped, live)
			}
		})
	}
}

func TestSeedKeys(t *testing.T) {
	t.Parallel()
	e := emulatortest.Start(t)
	seed := make([]emulator.SeedKey, 500)
	for i := range seed {
		seed[i] = emulator.SeedKey{Description: fmt.Sprint("k", i), Expires: e.Now().Add(time.Hour)}
	}
	ids, err := e.SeedKeys(emulator.DefaultServiceAccount, seed)
	if err != nil || len(ids) != len(seed) {
		t.Fatalf("SeedKeys = %d ids, %v", len(ids), err)
	}
	if got := len(e.Tokens().Alive()); got != len(seed) {
		t.Errorf("alive = %d, want %d", got, len(seed))
	}
	if _, err := e.SeedKeys("nope", seed[:1]); err == nil {
		t.Error("SeedKeys on an unknown account succeeded")
	}
}
