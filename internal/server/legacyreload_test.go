package server_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// legacyAdminTokenID is the name the broker knows its Legacy admin token
// by, from ListUpstreams.
func (h *harness) legacyAdminTokenID(t *testing.T, ctx context.Context) string {
	t.Helper()
	resp, err := h.admin.ListUpstreams(as(ctx, h.keyRoot), &ztbrokerv1.ListUpstreamsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range resp.GetUpstreams() {
		if u.GetUpstream() == "legacy" {
			return u.GetKeyId()
		}
	}
	t.Fatalf("no legacy upstream in %v", resp)
	return ""
}

// TestLegacyTokenFileReload: an operator makes a second Legacy admin
// token, installs it in upstreams.legacy.token_file and deletes the first.
// The broker takes it up on SIGHUP, and on its own when the file changes,
// and keeps issuing Legacy leases. For SIGHUP the file is rewritten in
// place with the same size and modification time, so that only the signal
// can reveal the change.
func TestLegacyTokenFileReload(t *testing.T) {
	t.Parallel()
	for _, how := range []string{"sighup", "file change"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "legacy-token")
			hup := make(chan os.Signal, 1)
			h := setup(t, withSIGHUP(hup), withLegacyTokenFile(path))
			ctx := testContext(t)
			if id := h.legacyAdminTokenID(t, ctx); id != emulator.DefaultLegacyAdminTokenName {
				t.Fatalf("the broker starts with Legacy token %q, want %q", id, emulator.DefaultLegacyAdminTokenName)
			}

			newTok := "legacy-" + rand.Text() + rand.Text()
			userPath := "/api/v1/user/" + emulator.DefaultLegacyUser + "/token"
			st, body, err := h.emu.Call(ctx, http.MethodPost, userPath, "token "+h.emu.AdminToken,
				fmt.Sprintf(`{"tokenName":"admin-2","token":%q}`, newTok))
			if err != nil || st != http.StatusOK {
				t.Fatalf("create the second token = %d %s, %v", st, body, err)
			}
			old, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(padded(newTok)), 0o600); err != nil {
				t.Fatal(err)
			}
			if how == "sighup" {
				if fi, err := os.Stat(path); err != nil || fi.Size() != old.Size() {
					t.Fatalf("the rewritten file: %v, %v; want the size kept", fi, err)
				}
				if err := os.Chtimes(path, time.Time{}, old.ModTime()); err != nil {
					t.Fatal(err)
				}
				hup <- syscall.SIGHUP
			}
			for h.legacyAdminTokenID(t, ctx) != "admin-2" {
				waitBriefly(ctx)
				if ctx.Err() != nil {
					t.Fatalf("the new token was not taken up; logs:\n%s", h.logs.String())
				}
			}
			// The first token goes; the broker works on with the second.
			st, body, err = h.emu.Call(ctx, http.MethodDelete, userPath+"/"+emulator.DefaultLegacyAdminTokenName, "token "+newTok, "")
			if err != nil || st != http.StatusOK {
				t.Fatalf("delete the first token = %d %s, %v", st, body, err)
			}
			if _, err := h.tb.IssueToken(as(ctx, h.keyA), &ztbrokerv1.IssueTokenRequest{Purpose: purposeLegacy}); err != nil {
				t.Errorf("issue a Legacy lease with the reloaded token: %v", err)
			}
			if strings.Contains(h.logs.String(), newTok) {
				t.Error("the new token appears in the log")
			}
		})
	}
}
