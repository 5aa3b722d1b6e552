package emulator_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator/emulatortest"
)

func TestAdminAPI(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	start := time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)
	e := emulatortest.Start(t, emulator.WithClock(func() time.Time { return start }))
	admin := e.Admin()

	// Faults set over HTTP take effect and read back.
	fs := emulator.FaultSet{
		Faults:    map[string]emulator.Fault{emulator.RouteV2ListOrgs: {Status: 503, Times: 1}},
		RateLimit: 50,
	}
	if err := admin.SetFaults(ctx, fs); err != nil {
		t.Fatalf("SetFaults: %v", err)
	}
	got, err := admin.Faults(ctx)
	if err != nil {
		t.Fatalf("Faults: %v", err)
	}
	if diff := cmp.Diff(fs, got); diff != "" {
		t.Errorf("Faults (-want +got):\n%s", diff)
	}
	if status := e.TryNewCentralToken(ctx, "Bearer", e.AdminToken); status != 503 {
		t.Errorf("with fault = %d, want 503", status)
	}
	if err := admin.SetFault(ctx, emulator.RouteV1Status, emulator.Fault{Status: 502}); err != nil {
		t.Fatalf("SetFault: %v", err)
	}
	if err := admin.ClearFault(ctx, emulator.RouteV1Status); err != nil {
		t.Fatalf("ClearFault: %v", err)
	}
	if err := admin.SetFault(ctx, "v9.nothing", emulator.Fault{Status: 502}); err == nil {
		t.Error("SetFault accepted an unknown route")
	}

	// Ground truth follows mints, deletes and the clock.
	m, err := e.NewCentralIssuer(t).Mint(ctx, "ztb-a", start.Add(time.Hour))
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	truth, err := admin.Tokens(ctx)
	if err != nil {
		t.Fatalf("Tokens: %v", err)
	}
	want := []emulator.LiveToken{{Kind: lease.UpstreamNewCentral, Account: emulator.DefaultServiceAccount, ID: m.ID, SHA256: lease.HashToken(m.Secret)}}
	if diff := cmp.Diff(want, truth.Alive()); diff != "" {
		t.Errorf("Alive (-want +got):\n%s", diff)
	}
	now, err := admin.AdvanceClock(ctx, 2*time.Hour)
	if err != nil || !now.Equal(start.Add(2*time.Hour)) {
		t.Fatalf("AdvanceClock = %v, %v", now, err)
	}
	if truth, _ = admin.Tokens(ctx); len(truth.Alive()) != 0 || !keyByID(t, truth, m.ID).Expired {
		t.Errorf("after expiry, truth = %+v", truth)
	}

	counters, err := admin.Counters(ctx)
	if err != nil {
		t.Fatalf("Counters: %v", err)
	}
	if diff := cmp.Diff(map[int]int{503: 1}, counters[emulator.RouteV2ListOrgs]); diff != "" {
		t.Errorf("org counters (-want +got):\n%s", diff)
	}

	if err := admin.Reset(ctx); err != nil {
		t.Fatalf("Reset: %v", err)
	}
	truth, _ = admin.Tokens(ctx)
	counters, _ = admin.Counters(ctx)
	// Only the seeded admin key is left.
	if keys := truth.ServiceAccounts[0].Keys; len(keys) != 1 || !keys[0].Admin || len(counters) != 0 || !truth.Now.Equal(start) {
		t.Errorf("after Reset: truth %+v counters %v", truth, counters)
	}
}

func keyByID(t *testing.T, g emulator.GroundTruth, id string) emulator.KeyTruth {
	t.Helper()
	for _, a := range g.ServiceAccounts {
		for _, k := range a.Keys {
			if k.ID == id {
				return k
			}
		}
	}
	t.Fatalf("no key %s in ground truth", id)
	return emulator.KeyTruth{}
}

func TestAdminAPINeedsTheAdminToken(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := emulatortest.Start(t)
	m, err := e.NewCentralIssuer(t).Mint(ctx, "k", e.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	for name, tok := range map[string]string{"wrong": "nope", "minted key": m.Secret, "empty": ""} {
		admin := &emulator.AdminClient{BaseURL: e.URL, AdminToken: tok, HTTPClient: e.HTTPClient()}
		if _, err := admin.Tokens(ctx); err == nil || !strings.Contains(err.Error(), "401") {
			t.Errorf("%s credential: Tokens = %v, want a 401", name, err)
		}
	}
}

// TestGroundTruthHoldsNoSecrets mints on both APIs and checks the admin
// API's JSON holds neither token, only their hashes.
func TestGroundTruthHoldsNoSecrets(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := emulatortest.Start(t)
	nc, err := e.NewCentralIssuer(t).Mint(ctx, "k", e.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	lg, err := e.LegacyIssuer(t).Mint(ctx, "t", e.Now())
	if err != nil {
		t.Fatal(err)
	}
	truth, err := e.Admin().Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(truth)
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{nc.Secret, lg.Secret, e.AdminToken} {
		if strings.Contains(string(b), secret) {
			t.Fatalf("ground truth contains a secret: %s", b)
		}
	}
	for _, h := range []string{lease.HashToken(nc.Secret), lease.HashToken(lg.Secret)} {
		if !strings.Contains(string(b), h) {
			t.Errorf("ground truth lacks hash %s", h)
		}
	}
}
