package newcentral_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/upstream/newcentral"
)

func owned(desc string) bool {
	_, _, ok := lease.ParseUpstreamName("ztb", desc)
	return ok
}

func TestInspectAdmin(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	leaseName := lease.UpstreamNameFor("ztb", "deploy", "0190b8a0-0000-7000-8000-000000000001")
	tests := []struct {
		name string
		opts []emulator.Option
		// before runs with the bundle, e.g. to add other keys.
		before func(t *testing.T, b *bundle)
		chk    func(b *bundle) newcentral.AdminCheck
		cred   string
		// wantErr is a fragment of the error; empty for success.
		wantErr string
	}{
		{name: "found by elimination", before: func(t *testing.T, b *bundle) {
			mint(t, b, leaseName) // a lease's key is never a candidate
		}},
		{name: "found by lastUsed among others", before: func(t *testing.T, b *bundle) {
			mint(t, b, "someone's key")
		}},
		{name: "ambiguous when lastUsed is not live", opts: []emulator.Option{emulator.WithLastUsed(false)},
			before: func(t *testing.T, b *bundle) { mint(t, b, "someone's key") }, wantErr: "set admin_key_id"},
		{name: "configured id", before: func(t *testing.T, b *bundle) {
			mint(t, b, "someone's key")
		}, opts: []emulator.Option{emulator.WithLastUsed(false)},
			chk: func(b *bundle) newcentral.AdminCheck { return newcentral.AdminCheck{KeyID: b.emu.AdminKeyID()} }},
		{name: "configured id unknown", chk: func(*bundle) newcentral.AdminCheck {
			return newcentral.AdminCheck{KeyID: "nope"}
		}, wantErr: `reading admin key "nope": not found`},
		{name: "on another account", opts: []emulator.Option{emulator.WithAdminServiceAccount("sa-admin")},
			wantErr: "not among the keys of service account(s) " + emulator.DefaultServiceAccount},
		{name: "unknown account", chk: func(*bundle) newcentral.AdminCheck {
			return newcentral.AdminCheck{Accounts: []string{"sa-nope"}, Owned: owned}
		}, wantErr: `reading service account "sa-nope": not found (HTTP 404)`},
		{name: "expired", opts: []emulator.Option{emulator.WithAdminKeyLifetime(-time.Minute)},
			wantErr: "the admin key was refused (HTTP 401): it is wrong, deleted or expired"},
		{name: "wrong", cred: "not-a-key", wantErr: "the admin key was refused (HTTP 401)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, append([]emulator.Option{emulator.WithAdminKeyLifetime(72 * time.Hour)}, tt.opts...)...)
			if tt.before != nil {
				tt.before(t, b)
			}
			// Time passes between the other keys' use and the check.
			b.clock.Add(time.Minute)
			cred := upstream.NewAdminCredential(b.emu.AdminToken)
			if tt.cred != "" {
				cred = upstream.NewAdminCredential(tt.cred)
			}
			api, err := newcentral.NewAPI(newcentral.Config{
				BaseURL: b.emu.URL, HTTPClient: b.emu.HTTPClient(), Credential: cred,
				Skew: upstream.NewClockSkew(b.clock.Now), Upstream: upstream.Options{RateLimit: -1}, Now: b.clock.Now,
			})
			if err != nil {
				t.Fatal(err)
			}
			chk := newcentral.AdminCheck{Accounts: []string{emulator.DefaultServiceAccount}, Owned: owned}
			if tt.chk != nil {
				chk = tt.chk(b)
			}
			info, err := api.InspectAdmin(context.Background(), chk)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("InspectAdmin = %+v, %v; want an error with %q", info, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("InspectAdmin: %v", err)
			}
			want := upstream.AdminInfo{KeyID: b.emu.AdminKeyID(), Account: emulator.DefaultServiceAccount,
				Expires: start.Add(72 * time.Hour), Source: upstream.SourceConfig}
			if info != want {
				t.Errorf("InspectAdmin = %+v, want %+v", info, want)
			}
		})
	}
}

func mint(t *testing.T, b *bundle, desc string) {
	t.Helper()
	m, err := b.c.Mint(context.Background(), desc, b.clock.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// Used, as a holder would: its lastUsed is now, before the check.
	b.emu.TryNewCentralToken(context.Background(), "Bearer", m.Secret)
}
