package server_test

import (
	"testing"
	"time"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// TestGracefulShutdown cancels Run while an issue is in flight on each
// transport: both finish with their token, and Run returns nil.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	h := setup(t)
	ctx := testContext(t)
	if err := h.emu.SetFault(emulator.RouteV2CreateKey, emulator.Fault{Latency: emulator.Duration(400 * time.Millisecond)}); err != nil {
		t.Fatal(err)
	}
	type result struct {
		name string
		resp *ztbrokerv1.IssueTokenResponse
		err  error
	}
	results := make(chan result, 2)
	for _, a := range h.apis() {
		go func() {
			r, err := a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC})
			results <- result{a.name(), r, err}
		}()
	}
	// Both requests are in the server once both pending leases exist; the
	// latency fault holds them there.
	deadline := time.Now().Add(10 * time.Second)
	for h.activeLeases(t, purposeNC) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the requests never reached the store")
		}
		waitBriefly(ctx)
	}
	if err := h.stop(); err != nil {
		t.Errorf("Run returned %v, want nil", err)
	}
	for range 2 {
		r := <-results
		if r.err != nil || r.resp.GetToken() == "" {
			t.Errorf("%s: in-flight issue ended with %v", r.name, r.err)
		}
	}
}
