package emulator_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator/emulatortest"
)

// call sends one request and returns its status and decoded JSON body.
func call(t *testing.T, e *emulatortest.Emulator, method, path, auth, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, e.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := e.HTTPClient().Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

// TestUnhandledRouteNamesItself runs both ways: 404 with Central's JSON
// message shape (the default, which a client must not take for "gone"),
// and 501.
func TestUnhandledRouteNamesItself(t *testing.T) {
	t.Parallel()
	for _, status := range []int{http.StatusNotFound, http.StatusNotImplemented} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			var opts []emulator.Option
			if status != http.StatusNotFound {
				opts = append(opts, emulator.WithUnknownRouteStatus(status))
			}
			e := emulatortest.Start(t, opts...)
			tests := []struct{ method, path string }{
				{http.MethodGet, "/api/v2/network-group"},
				{http.MethodPost, "/api/v2beta/network/8056c2e21c000001/flow-rule"},
				{http.MethodPost, "/api/v1/status"},
				{http.MethodPut, "/api/v2/api-key/abc"},
				{http.MethodGet, "/"},
			}
			for _, tt := range tests {
				got, body := call(t, e, tt.method, tt.path, "Bearer "+e.AdminToken, "")
				if got != status {
					t.Errorf("%s %s: status = %d, want %d", tt.method, tt.path, got, status)
				}
				msg, _ := body["message"].(string)
				if !strings.Contains(msg, tt.method+" "+tt.path) {
					t.Errorf("message %q does not name %s %s", msg, tt.method, tt.path)
				}
			}
			if got := e.Count(emulator.RouteUnhandled, status); got != len(tests) {
				t.Errorf("unhandled counter = %d, want %d", got, len(tests))
			}
		})
	}
}

// TestEveryRouteChecksAuth sends each route no credential, a wrong one and
// the wrong scheme.
func TestEveryRouteChecksAuth(t *testing.T) {
	t.Parallel()
	e := emulatortest.Start(t)
	routes := []struct {
		method, path, body string
	}{
		{http.MethodGet, "/api/v2/org", ""},
		{http.MethodGet, "/api/v2/service-account/" + emulator.DefaultServiceAccount, ""},
		{http.MethodPost, "/api/v2/service-account/" + emulator.DefaultServiceAccount + "/api-key", `{"expires":"2999-01-01T00:00:00Z"}`},
		{http.MethodGet, "/api/v2/api-key/k1", ""},
		{http.MethodDelete, "/api/v2/api-key/k1", ""},
		{http.MethodGet, "/api/v1/user/" + emulator.DefaultLegacyUser, ""},
		{http.MethodPost, "/api/v1/user/" + emulator.DefaultLegacyUser + "/token", `{"tokenName":"n","token":"0123456789abcdef0123456789abcdef"}`},
		{http.MethodDelete, "/api/v1/user/" + emulator.DefaultLegacyUser + "/token/n", ""},
		{http.MethodGet, "/api/v1/randomToken", ""},
	}
	v2 := func(p string) bool { return strings.HasPrefix(p, "/api/v2/") }
	for _, r := range routes {
		// Legacy takes "token" and "bearer"; New Central only "Bearer".
		wrongScheme := "Basic " + e.AdminToken
		if v2(r.path) {
			wrongScheme = "token " + e.AdminToken
		}
		auths := []struct{ name, header string }{
			{"none", ""}, {"bad bearer", "Bearer nope"}, {"bad token", "token nope"},
			{"wrong scheme", wrongScheme}, {"no scheme", e.AdminToken},
		}
		for _, a := range auths {
			t.Run(r.method+" "+r.path+" "+a.name, func(t *testing.T) {
				t.Parallel()
				status, _ := call(t, e, r.method, r.path, a.header, r.body)
				if status != http.StatusUnauthorized {
					t.Errorf("status = %d, want 401", status)
				}
			})
		}
	}
}

func TestStatusWithBadTokenHasNullUser(t *testing.T) {
	t.Parallel()
	e := emulatortest.Start(t)
	for _, auth := range []string{"", "token nope", "Bearer nope"} {
		status, body := call(t, e, http.MethodGet, "/api/v1/status", auth, "")
		if status != http.StatusOK || body["user"] != nil {
			t.Errorf("status with %q = %d user %v, want 200 and null", auth, status, body["user"])
		}
	}
	status, body := call(t, e, http.MethodGet, "/api/v1/status", "TOKEN "+e.AdminToken, "")
	user, _ := body["user"].(map[string]any)
	if status != http.StatusOK || user["id"] != emulator.DefaultLegacyUser {
		t.Errorf("status with the admin token = %d user %v", status, body["user"])
	}
}

func TestTokensStayOnTheirOwnAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := emulatortest.Start(t)
	nc, err := e.NewCentralIssuer(t).Mint(ctx, "k", e.Now().Add(3600e9))
	if err != nil {
		t.Fatal(err)
	}
	lg, err := e.LegacyIssuer(t).Mint(ctx, "t", e.Now())
	if err != nil {
		t.Fatal(err)
	}
	got := []int{
		e.TryLegacyToken(ctx, "bearer", nc.Secret),
		e.TryNewCentralToken(ctx, "Bearer", lg.Secret),
		e.TryNewCentralToken(ctx, "token", nc.Secret),
	}
	if diff := cmp.Diff([]int{401, 401, 401}, got); diff != "" {
		t.Errorf("cross-API use (-want +got):\n%s", diff)
	}
}

func TestLegacyTokenOnlyManagesItsUser(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := emulatortest.Start(t, emulator.WithLegacyUsers("u-1", "u-2"))
	m, err := e.LegacyIssuer(t).Mint(ctx, "t", e.Now())
	if err != nil {
		t.Fatal(err)
	}
	if status, _ := call(t, e, http.MethodGet, "/api/v1/user/u-1", "token "+m.Secret, ""); status != 200 {
		t.Errorf("own user = %d, want 200", status)
	}
	if status, _ := call(t, e, http.MethodGet, "/api/v1/user/u-2", "token "+m.Secret, ""); status != 403 {
		t.Errorf("other user = %d, want 403", status)
	}
}

func TestRequestValidation(t *testing.T) {
	t.Parallel()
	e := emulatortest.Start(t)
	ncPath := "/api/v2/service-account/" + emulator.DefaultServiceAccount + "/api-key"
	lgPath := "/api/v1/user/" + emulator.DefaultLegacyUser + "/token"
	long := `"0123456789abcdef0123456789abcdef"`
	tests := []struct {
		name, method, path, body string
		want                     int
	}{
		{"v2 no expires", http.MethodPost, ncPath, `{"description":"x"}`, 400},
		{"v2 expires not RFC 3339", http.MethodPost, ncPath, `{"expires":"1790000000000"}`, 400},
		{"v2 expires in the past", http.MethodPost, ncPath, `{"expires":"2000-01-01T00:00:00Z"}`, 400},
		{"v2 not json", http.MethodPost, ncPath, `expires=soon`, 400},
		{"v2 unknown account", http.MethodPost, "/api/v2/service-account/nope/api-key", `{"expires":"2999-01-01T00:00:00Z"}`, 404},
		{"v1 short token", http.MethodPost, lgPath, `{"tokenName":"a","token":"short"}`, 400},
		{"v1 no name", http.MethodPost, lgPath, `{"token":` + long + `}`, 400},
		{"v1 another user", http.MethodGet, "/api/v1/user/nope", "", 403},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			status, body := call(t, e, tt.method, tt.path, "Bearer "+e.AdminToken, tt.body)
			if status != tt.want {
				t.Errorf("status = %d, want %d", status, tt.want)
			}
			if msg, _ := body["message"].(string); msg == "" {
				t.Errorf("body %v has no message", body)
			}
		})
	}
}

func TestLegacyDuplicateName(t *testing.T) {
	t.Parallel()
	e := emulatortest.Start(t)
	path := "/api/v1/user/" + emulator.DefaultLegacyUser + "/token"
	first, _ := call(t, e, http.MethodPost, path, "token "+e.AdminToken, `{"tokenName":"a","token":"0123456789abcdef0123456789abcdef"}`)
	second, _ := call(t, e, http.MethodPost, path, "token "+e.AdminToken, `{"tokenName":"a","token":"fedcba9876543210fedcba9876543210"}`)
	if first != 200 || second != 400 {
		t.Errorf("statuses = %d, %d; want 200, 400", first, second)
	}
}

func TestRandomToken(t *testing.T) {
	t.Parallel()
	e := emulatortest.Start(t)
	status, body := call(t, e, http.MethodGet, "/api/v1/randomToken", "token "+e.AdminToken, "")
	tok, _ := body["token"].(string)
	hx, _ := body["hex"].(string)
	if status != 200 || len(tok) != 32 || len(hx) != 64 {
		t.Errorf("randomToken = %d %v", status, body)
	}
}
