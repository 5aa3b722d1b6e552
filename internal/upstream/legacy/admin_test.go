package legacy_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator/emulatortest"
	"github.com/ztbroker/ztbroker/internal/upstream/legacy"
)

func TestInspectAdmin(t *testing.T) {
	t.Parallel()
	owned := func(n string) bool { _, _, ok := lease.ParseUpstreamName("ztb", n); return ok }
	leaseName := lease.UpstreamNameFor("ztb", "deploy", "0190b8a0-0000-7000-8000-000000000001")
	tests := []struct {
		name    string
		mint    []string
		chk     legacy.AdminCheck
		cred    string
		userID  string
		want    string
		wantErr string
		unknown bool
	}{
		{name: "found by elimination", mint: []string{leaseName}, chk: legacy.AdminCheck{Owned: owned}, want: emulator.DefaultLegacyAdminTokenName},
		{name: "configured", mint: []string{"personal"}, chk: legacy.AdminCheck{TokenName: emulator.DefaultLegacyAdminTokenName, Owned: owned},
			want: emulator.DefaultLegacyAdminTokenName},
		{name: "configured but absent", chk: legacy.AdminCheck{TokenName: "nope"}, wantErr: `no token named "nope"`},
		{name: "ambiguous", mint: []string{"personal"}, chk: legacy.AdminCheck{Owned: owned}, wantErr: "set admin_token_name", unknown: true},
		{name: "refused", cred: "not-a-token", wantErr: "the admin token was refused"},
		{name: "another user", userID: "u-other", wantErr: `not to the configured user_id "u-other"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			emu := emulatortest.Start(t)
			c := emu.LegacyIssuer(t, func(cfg *legacy.Config) {
				if tt.cred != "" {
					cfg.Credential = upstream.NewAdminCredential(tt.cred)
				}
				if tt.userID != "" {
					cfg.UserID = tt.userID
				}
			})
			for _, n := range tt.mint {
				if _, err := c.Mint(ctx, n, emu.Now()); err != nil {
					t.Fatal(err)
				}
			}
			info, err := c.InspectAdmin(ctx, tt.chk)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("InspectAdmin = %+v, %v; want an error with %q", info, err, tt.wantErr)
				}
				if got := errors.Is(err, legacy.ErrAdminTokenUnknown); got != tt.unknown {
					t.Errorf("ErrAdminTokenUnknown = %v, want %v", got, tt.unknown)
				}
				return
			}
			if err != nil || info.KeyID != tt.want || info.Account != emulator.DefaultLegacyUser {
				t.Fatalf("InspectAdmin = %+v, %v; want key %q on %s", info, err, tt.want, emulator.DefaultLegacyUser)
			}
		})
	}
}

func TestDeleteRefusesTheAdminToken(t *testing.T) {
	t.Parallel()
	emu := emulatortest.Start(t)
	c := emu.LegacyIssuer(t)
	if err := c.Delete(context.Background(), emulator.DefaultLegacyAdminTokenName); !errors.Is(err, upstream.ErrProtected) {
		t.Fatalf("Delete of the admin token = %v, want ErrProtected", err)
	}
	if emu.TryLegacyToken(context.Background(), "token", emu.AdminToken) != 200 {
		t.Error("the admin token stopped working")
	}
}
