package emulatortest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/upstream/legacy"
	"github.com/ztbroker/ztbroker/internal/upstream/newcentral"
)

// Emulator is an emulator.Server listening on a test's loopback port.
type Emulator struct {
	*emulator.Server
	// URL is the server's root; New Central paths hang off it directly and
	// Legacy's base is URL + "/api/v1".
	URL string
	// AdminToken may do everything, including drive the admin API.
	AdminToken string

	srv *httptest.Server
}

// Start runs an emulator for the length of t. Without WithAdminToken a
// random admin token is made up.
func Start(t testing.TB, opts ...emulator.Option) *Emulator {
	t.Helper()
	// Options apply in order, so a token the test chose wins.
	opts = append([]emulator.Option{emulator.WithAdminToken("adm_" + rand.Text())}, opts...)
	adminToken := emulator.AdminTokenOf(opts...)
	s, err := emulator.New(opts...)
	if err != nil {
		t.Fatalf("emulator: %v", err)
	}
	srv := httptest.NewServer(s)
	// Release hung requests before the server waits for them.
	t.Cleanup(func() {
		s.Close()
		srv.Close()
	})
	return &Emulator{Server: s, URL: srv.URL, AdminToken: adminToken, srv: srv}
}

// HTTPClient is a client for the emulator's listener.
func (e *Emulator) HTTPClient() *http.Client { return e.srv.Client() }

// Admin is an AdminClient for this emulator.
func (e *Emulator) Admin() *emulator.AdminClient {
	return &emulator.AdminClient{BaseURL: e.URL, AdminToken: e.AdminToken, HTTPClient: e.srv.Client()}
}

// AdminCredential is the admin token as the broker would hold it once it
// has found its key at start-up: the key's id and account are known, so
// no cleanup may delete it.
func (e *Emulator) AdminCredential() *upstream.AdminCredential {
	c := upstream.NewAdminCredential(e.AdminToken)
	c.SetInfo(upstream.AdminInfo{KeyID: e.AdminKeyID(), Account: e.AdminAccount(), Source: upstream.SourceConfig})
	return c
}

// LegacyAdminCredential is AdminCredential for the Legacy admin token.
func (e *Emulator) LegacyAdminCredential() *upstream.AdminCredential {
	c := upstream.NewAdminCredential(e.AdminToken)
	users := e.LegacyUsers()
	info := upstream.AdminInfo{KeyID: e.LegacyAdminTokenName(), Source: upstream.SourceConfig}
	if len(users) > 0 {
		info.Account = users[0]
	}
	c.SetInfo(info)
	return c
}

// NewCentralIssuer returns a real New Central client pointed at the
// emulator's first service account, minting with the admin credential
// (AdminCredential) and with no client-side rate limit. mods adjust the
// config before it is built.
func (e *Emulator) NewCentralIssuer(t testing.TB, mods ...func(*newcentral.Config)) *newcentral.Client {
	t.Helper()
	accounts := e.ServiceAccounts()
	if len(accounts) == 0 {
		t.Fatalf("emulator: no service account configured")
	}
	cfg := newcentral.Config{
		BaseURL: e.URL, HTTPClient: e.srv.Client(), Credential: e.AdminCredential(),
		ServiceAccountID: accounts[0],
		Upstream:         upstream.Options{RateLimit: -1},
	}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := newcentral.New(cfg)
	if err != nil {
		t.Fatalf("emulator: new central issuer: %v", err)
	}
	return c
}

// LegacyIssuer returns a real Legacy client pointed at the emulator's first
// user, minting with the admin token (LegacyAdminCredential) and with no
// client-side rate limit.
func (e *Emulator) LegacyIssuer(t testing.TB, mods ...func(*legacy.Config)) *legacy.Client {
	t.Helper()
	users := e.LegacyUsers()
	if len(users) == 0 {
		t.Fatalf("emulator: no legacy user configured")
	}
	cfg := legacy.Config{
		BaseURL: e.URL + "/api/v1", HTTPClient: e.srv.Client(), Credential: e.LegacyAdminCredential(),
		UserID:   users[0],
		Upstream: upstream.Options{RateLimit: -1},
	}
	for _, m := range mods {
		m(&cfg)
	}
	c, err := legacy.New(cfg)
	if err != nil {
		t.Fatalf("emulator: legacy issuer: %v", err)
	}
	return c
}

// TryToken uses a minted token the way its holder would and returns the
// status: with scheme "token" it is a Legacy token (TryLegacyToken), with
// any other scheme a New Central key (TryNewCentralToken). Zero means the
// request failed outright.
func (e *Emulator) TryToken(ctx context.Context, scheme, token string) int {
	if strings.EqualFold(scheme, "token") {
		return e.TryLegacyToken(ctx, scheme, token)
	}
	return e.TryNewCentralToken(ctx, scheme, token)
}

// TryNewCentralToken calls GET /api/v2/org with the token.
func (e *Emulator) TryNewCentralToken(ctx context.Context, scheme, token string) int {
	resp, err := e.try(ctx, "/api/v2/org", scheme, token)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode
}

// TryLegacyToken calls GET /api/v1/status with the token (scheme "token" or
// "bearer"), reporting a null user as 401: Central answers 200 either way.
func (e *Emulator) TryLegacyToken(ctx context.Context, scheme, token string) int {
	resp, err := e.try(ctx, "/api/v1/status", scheme, token)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	var st struct {
		User *json.RawMessage `json:"user"`
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil || st.User == nil || string(*st.User) == "null" {
		return http.StatusUnauthorized
	}
	return http.StatusOK
}

func (e *Emulator) try(ctx context.Context, path, scheme, token string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.URL+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", scheme+" "+token)
	return e.srv.Client().Do(req)
}

// Call sends one request to the emulator as a credential's holder would,
// with authorization as the whole Authorization header, and returns the
// status and body.
func (e *Emulator) Call(ctx context.Context, method, path, authorization, body string) (int, []byte, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, e.URL+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}
