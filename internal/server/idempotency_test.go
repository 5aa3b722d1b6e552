package server_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

func mintedKeys(h *harness) int {
	n := 0
	for _, a := range h.emu.Tokens().ServiceAccounts {
		n += len(a.Keys)
	}
	return n
}

func TestIdempotentIssue(t *testing.T) {
	t.Parallel()
	h := setup(t)
	for _, a := range h.apis() {
		t.Run(a.name(), func(t *testing.T) {
			ctx := testContext(t)
			before := mintedKeys(h)
			req := &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC, IdempotencyKey: "job-" + a.name()}
			first, err := a.issue(ctx, h.keyA, req)
			if err != nil {
				t.Fatalf("first: %v", err)
			}
			second, err := a.issue(ctx, h.keyA, req)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if second.GetLease().GetId() != first.GetLease().GetId() || second.GetToken() != first.GetToken() {
				t.Errorf("retry got lease %s, a different secret=%t; want lease %s and the same secret",
					second.GetLease().GetId(), second.GetToken() != first.GetToken(), first.GetLease().GetId())
			}
			if first.GetReplayed() || !second.GetReplayed() {
				t.Errorf("replayed: first %t, second %t; want false, true", first.GetReplayed(), second.GetReplayed())
			}
			if n := mintedKeys(h) - before; n != 1 {
				t.Errorf("emulator minted %d keys for one idempotency key, want 1", n)
			}
		})
	}

	t.Run("dropped response", func(t *testing.T) {
		// The caller hangs up while the mint is in flight (the emulator
		// holds create-key back until then); the server finishes anyway,
		// and the retry gets that lease and its secret.
		ctx := testContext(t)
		before := mintedKeys(h)
		if err := h.emu.SetFault(emulator.RouteV2CreateKey, emulator.Fault{Latency: emulator.Duration(300e6), Times: 1}); err != nil {
			t.Fatal(err)
		}
		req := &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC, IdempotencyKey: "dropped"}
		dctx, cancel := context.WithTimeout(ctx, 100e6)
		_, err := grpcAPI{h}.issue(dctx, h.keyA, req)
		cancel()
		if err == nil {
			t.Fatal("the first call was not cut off")
		}
		var retry *ztbrokerv1.IssueTokenResponse
		for attempt := 0; ; attempt++ {
			retry, err = grpcAPI{h}.issue(ctx, h.keyA, req)
			// Pending means the first mint is still going: the server
			// says when to retry, and the latency fault bounds how long.
			if ae, ok := err.(*apiError); ok && ae.Code == codes.Unavailable && attempt < 100 && strings.Contains(ae.Msg, "still being issued") {
				waitBriefly(ctx)
				continue
			}
			break
		}
		if err != nil {
			t.Fatalf("retry: %v", err)
		}
		if !retry.GetReplayed() || retry.GetToken() == "" {
			t.Fatalf("retry: replayed %t, token %t", retry.GetReplayed(), retry.GetToken() != "")
		}
		if code := h.emu.TryToken(ctx, retry.GetAuthScheme(), retry.GetToken()); code != http.StatusOK {
			t.Errorf("replayed token: emulator answered %d", code)
		}
		if n := mintedKeys(h) - before; n != 1 {
			t.Errorf("emulator minted %d keys, want 1", n)
		}
		if hash(retry.GetToken()) != retry.GetLease().GetTokenSha256() {
			t.Error("replayed secret does not match the lease's token hash")
		}
	})
}

func TestIdempotentIssueWithoutSealKey(t *testing.T) {
	t.Parallel()
	h := setup(t, withoutSealKey())
	for _, a := range h.apis() {
		t.Run(a.name(), func(t *testing.T) {
			ctx := testContext(t)
			req := &ztbrokerv1.IssueTokenRequest{Purpose: purposeLegacy, IdempotencyKey: "k-" + a.name()}
			first, err := a.issue(ctx, h.keyA, req)
			if err != nil {
				t.Fatalf("first: %v", err)
			}
			_, err = a.issue(ctx, h.keyA, req)
			ae := wantErr(t, err, codes.AlreadyExists, http.StatusConflict)
			if !strings.Contains(ae.Msg, first.GetLease().GetId()) {
				t.Errorf("message %q does not name lease %s", ae.Msg, first.GetLease().GetId())
			}
			if leaks := containsAny(ae.Msg, []string{first.GetToken()}); len(leaks) > 0 {
				t.Error("message carries the secret")
			}
		})
	}
}
