package emulator_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/upstream/newcentral"
)

// TestOrganisationsAreApart: two organisations on one listener share
// nothing: a key minted on staging works on staging only, is listed there
// only, and the admin credential of one is refused by the other.
func TestOrganisationsAreApart(t *testing.T) {
	t.Parallel()
	root, err := emulator.New(emulator.WithAdminToken("root-admin-token"), emulator.WithServiceAccounts("sa-1"))
	if err != nil {
		t.Fatal(err)
	}
	staging, err := emulator.New(emulator.WithAdminToken("staging-admin-token"), emulator.WithServiceAccounts("sa-1"))
	if err != nil {
		t.Fatal(err)
	}
	h, err := emulator.Organisations(root, map[string]*emulator.Server{"staging": staging})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	client := func(base, token string) *newcentral.Client {
		c, err := newcentral.New(newcentral.Config{BaseURL: base, HTTPClient: srv.Client(), AdminKey: token, ServiceAccountID: "sa-1",
			Upstream: upstream.Options{RateLimit: -1}})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	ctx := t.Context()
	m, err := client(srv.URL+"/staging", "staging-admin-token").Mint(ctx, "ztb-x", time.Now().Add(time.Hour))
	if err != nil {
		t.Fatalf("mint on staging: %v", err)
	}
	try := func(base, token string) int {
		req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, base+"/api/v2/org", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for _, c := range []struct {
		base, token string
		want        int
	}{
		{srv.URL + "/staging", m.Secret, http.StatusOK},
		{srv.URL, m.Secret, http.StatusUnauthorized},
		{srv.URL, "staging-admin-token", http.StatusUnauthorized},
		{srv.URL + "/staging", "root-admin-token", http.StatusUnauthorized},
	} {
		if got := try(c.base, c.token); got != c.want {
			t.Errorf("GET %s/api/v2/org = %d, want %d", c.base, got, c.want)
		}
	}
	if len(root.Tokens().Alive()) != 0 || len(staging.Tokens().Alive()) != 1 {
		t.Errorf("live keys: root %d, staging %d; want 0 and 1", len(root.Tokens().Alive()), len(staging.Tokens().Alive()))
	}
	if _, err := emulator.Organisations(root, map[string]*emulator.Server{"api": staging}); err == nil {
		t.Error("an organisation named api, which would hide the root's routes, was accepted")
	}
}
