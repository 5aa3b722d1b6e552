package legacy_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator/emulatortest"
	"github.com/ztbroker/ztbroker/internal/upstream/legacy"
)

func TestIssuerIdentity(t *testing.T) {
	t.Parallel()
	emu := emulatortest.Start(t)
	c := emu.LegacyIssuer(t)
	got := []string{c.Kind(), c.Account(), c.APIBaseURL(), c.AuthScheme()}
	want := []string{lease.UpstreamLegacy, emulator.DefaultLegacyUser, emu.URL + "/api/v1", "token"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("identity (-want +got):\n%s", diff)
	}
}

func TestMintUseDeleteList(t *testing.T) {
	t.Parallel()
	for _, scheme := range []string{legacy.SchemeToken, legacy.SchemeBearer} {
		t.Run("admin scheme "+scheme, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			emu := emulatortest.Start(t)
			c := emu.LegacyIssuer(t, func(cfg *legacy.Config) { cfg.AdminScheme = scheme })

			m, err := c.Mint(ctx, "ztb-ci-0001", emu.Now())
			if err != nil {
				t.Fatalf("Mint: %v", err)
			}
			if m.ID != "ztb-ci-0001" || len(m.Secret) != legacy.TokenLength || !m.Expires.IsZero() {
				t.Errorf("Minted = {ID:%q len(Secret):%d Expires:%v}", m.ID, len(m.Secret), m.Expires)
			}
			tokens := emu.Tokens().LegacyUsers[0].Tokens
			if len(tokens) != 2 || tokens[1].SHA256 != lease.HashToken(m.Secret) {
				t.Fatalf("ground truth %+v does not hold the minted token's hash", tokens)
			}
			for _, s := range []string{"token", "bearer", "TOKEN", "Bearer"} {
				if got := emu.TryLegacyToken(ctx, s, m.Secret); got != http.StatusOK {
					t.Errorf("minted token with scheme %q = %d, want 200", s, got)
				}
			}
			list, err := c.List(ctx)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			admin := emulator.DefaultLegacyAdminTokenName
			want := []upstream.Token{{ID: admin, Name: admin, Protected: true}, {ID: m.ID, Name: m.ID}}
			if diff := cmp.Diff(want, list); diff != "" {
				t.Errorf("List (-want +got):\n%s", diff)
			}
			if err := c.Delete(ctx, m.ID); err != nil {
				t.Fatalf("Delete: %v", err)
			}
			if got := emu.TryToken(ctx, "token", m.Secret); got != http.StatusUnauthorized {
				t.Fatalf("deleted token = %d, want 401", got)
			}
			// A second delete meets a 404 that the token list confirms.
			if err := c.Delete(ctx, m.ID); err != nil {
				t.Fatalf("second Delete: %v", err)
			}
			if got := emu.Count(emulator.RouteV1DeleteToken, 404); got != 1 {
				t.Errorf("404s on delete = %d, want 1", got)
			}
		})
	}
}

func TestNameNeedsEscaping(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	emu := emulatortest.Start(t)
	c := emu.LegacyIssuer(t)
	const name = "ztb/odd name?#1"
	if _, err := c.Mint(ctx, name, emu.Now()); err != nil {
		t.Fatalf("Mint: %v", err)
	}
	if err := c.Delete(ctx, name); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if got := emu.Tokens().Alive(); len(got) != 0 {
		t.Errorf("alive after delete: %v", got)
	}
}

func TestUnconfirmed404IsAnError(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	emu := emulatortest.Start(t)
	c := emu.LegacyIssuer(t)
	m, err := c.Mint(ctx, "ztb-x", emu.Now())
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	if err := emu.SetFault(emulator.RouteV1DeleteToken, emulator.Fault{Status: 404, Times: 1}); err != nil {
		t.Fatal(err)
	}
	err = c.Delete(ctx, m.ID)
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.StatusCode != 404 {
		t.Fatalf("Delete = %v, want a 404 error", err)
	}
	if len(emu.Tokens().Alive()) != 1 {
		t.Error("token should still be alive")
	}
}

func TestDiscoverUserID(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	emu := emulatortest.Start(t, emulator.WithLegacyUsers("u-1", "u-2"))
	c := emu.LegacyIssuer(t, func(cfg *legacy.Config) { cfg.UserID = "" })
	if got := c.Account(); got != "" {
		t.Fatalf("Account before discovery = %q", got)
	}
	if _, err := c.Mint(ctx, "ztb-x", emu.Now()); err != nil {
		t.Fatalf("Mint: %v", err)
	}
	if got := c.Account(); got != "u-1" {
		t.Errorf("Account after discovery = %q, want u-1", got)
	}
}

func TestBadAdminToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	emu := emulatortest.Start(t)
	tests := []struct {
		name   string
		userID string
	}{
		{"discovery", ""},
		{"known user", emulator.DefaultLegacyUser},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := emu.LegacyIssuer(t, func(cfg *legacy.Config) {
				cfg.Credential, cfg.UserID = upstream.NewAdminCredential("wrong-token"), tt.userID
			})
			_, err := c.Mint(ctx, "ztb-x", emu.Now())
			var ue *upstream.Error
			if !errors.As(err, &ue) || ue.StatusCode != 401 || ue.Retryable {
				t.Fatalf("Mint with a bad admin token = %v, want a permanent 401", err)
			}
		})
	}
}

func TestTimeoutAndThrottle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault emulator.Fault
		after bool
	}{
		{"hang", emulator.Fault{Hang: true}, false},
		{"throttle", emulator.Fault{Throttle: emulator.Duration(2e9)}, true},
		{"503", emulator.Fault{Status: 503}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			emu := emulatortest.Start(t, emulator.WithFault(emulator.RouteV1CreateToken, tt.fault))
			c := emu.LegacyIssuer(t, func(cfg *legacy.Config) {
				// Only the hang needs a short timeout; on a loaded machine
				// it would cut the throttled answer off before it arrived.
				if tt.fault.Hang {
					cfg.Upstream.Timeout = 50e6
				}
			})
			_, err := c.Mint(context.Background(), "ztb-x", emu.Now())
			if !upstream.IsRetryable(err) {
				t.Fatalf("Mint = %v, want retryable", err)
			}
			if got := upstream.RetryAfterOf(err) > 0; got != tt.after {
				t.Errorf("RetryAfter = %v, want set: %v", upstream.RetryAfterOf(err), tt.after)
			}
		})
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  legacy.Config
	}{
		{"no admin token", legacy.Config{}},
		{"bad scheme", legacy.Config{AdminToken: "t", AdminScheme: "basic"}},
		{"relative base url", legacy.Config{AdminToken: "t", BaseURL: "api/v1"}},
		{"delete path without name", legacy.Config{AdminToken: "t", DeleteTokenPath: "/user/{id}/token"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := legacy.New(tt.cfg); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
	c, err := legacy.New(legacy.Config{AdminToken: "t"})
	if err != nil {
		t.Fatalf("New with defaults: %v", err)
	}
	if got := c.APIBaseURL(); got != legacy.DefaultBaseURL {
		t.Errorf("default base URL = %q", got)
	}
}
