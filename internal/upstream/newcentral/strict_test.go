package newcentral_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/upstream/newcentral"
)

// TestRouteLevel404IsNotGone misroutes the delete: Central's catch-all
// answers 404 with a JSON message, exactly the shape a real "no such key"
// might have. The key is still there, so the delete must fail. Both
// readings of an unknown route are tried.
func TestRouteLevel404IsNotGone(t *testing.T) {
	t.Parallel()
	for _, status := range []int{404, 501} {
		t.Run(fmt.Sprint(status), func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t, emulator.WithUnknownRouteStatus(status))
			m, err := b.c.Mint(ctx, "ztb-x", b.clock.Now().Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			c := b.emu.NewCentralIssuer(t, func(cfg *newcentral.Config) { cfg.DeleteKeyPath = "/api/v2/apikeys/{id}" })
			err = c.Delete(ctx, m.ID)
			var ue *upstream.Error
			if !errors.As(err, &ue) || ue.StatusCode != status {
				t.Fatalf("Delete on a wrong route = %v, want an HTTP %d error", err, status)
			}
			if got := b.emu.Count(emulator.RouteUnhandled, status); got != 1 {
				t.Errorf("unhandled %d answers = %d, want 1", status, got)
			}
			if !alive(b, m.ID) {
				t.Error("the key is gone, yet nothing deleted it")
			}
		})
	}
}

// TestDeleteNeedsTheDocumentedAnswer answers a delete 2xx with bodies the
// API does not document. Success is then only what a fresh listing shows.
func TestDeleteNeedsTheDocumentedAnswer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		fault   emulator.Fault
		deleted bool
	}{
		{"200 {} and nothing deleted", emulator.Fault{Status: 200, Body: `{}`}, false},
		{"204 and nothing deleted", emulator.Fault{Status: 204, Body: " "}, false},
		{"200 {} after deleting", emulator.Fault{After: true, Status: 200, Body: `{}`}, true},
		{"204 after deleting", emulator.Fault{After: true, Status: 204, Body: " "}, true},
		{"404 with a message after deleting", emulator.Fault{After: true, Status: 404}, true},
		{"403 with a message, nothing deleted", emulator.Fault{Status: 403}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t)
			m, err := b.c.Mint(ctx, "ztb-x", b.clock.Now().Add(time.Hour))
			if err != nil {
				t.Fatal(err)
			}
			tt.fault.Times = 1
			if err := b.emu.SetFault(emulator.RouteV2DeleteKey, tt.fault); err != nil {
				t.Fatal(err)
			}
			err = b.c.Delete(ctx, m.ID)
			if gotOK := err == nil; gotOK != tt.deleted {
				t.Fatalf("Delete = %v, want success %v", err, tt.deleted)
			}
			if alive(b, m.ID) == tt.deleted {
				t.Errorf("key alive = %v after the delete", !tt.deleted)
			}
			if got := b.emu.Count(emulator.RouteV2GetServiceAccount, 200); got != 1 {
				t.Errorf("confirming listings = %d, want 1", got)
			}
		})
	}
}

// TestCreateWithoutKeyIsAmbiguous: a 2xx without the key's id or secret
// may still have created the key, so it must be cleaned up like a timeout.
func TestCreateWithoutKeyIsAmbiguous(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`{}`, `{"id":"k1"}`, `not json`} {
		t.Run(body, func(t *testing.T) {
			t.Parallel()
			b := setup(t, emulator.WithFault(emulator.RouteV2CreateKey, emulator.Fault{After: true, Status: 200, Body: body}))
			_, err := b.c.Mint(context.Background(), "ztb-x", b.clock.Now().Add(time.Hour))
			if err == nil || !upstream.IsAmbiguous(err) {
				t.Fatalf("Mint = %v, want an ambiguous error", err)
			}
			if strings.Contains(err.Error(), body) && body != "{}" {
				t.Errorf("error %q quotes the body", err)
			}
			if len(b.emu.Tokens().Alive()) != 1 {
				t.Error("the key should exist upstream")
			}
		})
	}
}

func TestDeleteRefusesTheAdminKey(t *testing.T) {
	t.Parallel()
	b := setup(t)
	err := b.c.Delete(context.Background(), b.emu.AdminKeyID())
	if !errors.Is(err, upstream.ErrProtected) {
		t.Fatalf("Delete of the admin key = %v, want ErrProtected", err)
	}
	if n := len(b.emu.Counters()[emulator.RouteV2DeleteKey]); n != 0 {
		t.Errorf("a delete reached the emulator")
	}
	// A key the rotation has in flight is refused too.
	cred := upstream.NewAdminCredential(b.emu.AdminToken)
	c := b.emu.NewCentralIssuer(t, func(cfg *newcentral.Config) { cfg.Credential = cred })
	m, err := c.Mint(context.Background(), "new admin", b.clock.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	cred.SetProtected(m.ID)
	if err := c.Delete(context.Background(), m.ID); !errors.Is(err, upstream.ErrProtected) {
		t.Errorf("Delete of a key in flight = %v, want ErrProtected", err)
	}
}

func TestListingCap(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seedKeys(t, b, 50)
	c := b.emu.NewCentralIssuer(t, func(cfg *newcentral.Config) { cfg.MaxResponseBytes = 4096 })
	_, err := c.List(context.Background())
	if !errors.Is(err, upstream.ErrTooLarge) || !strings.Contains(err.Error(), "cap of 4096 bytes") {
		t.Fatalf("List over the cap = %v, want a clear ErrTooLarge", err)
	}
}

// TestTwentyThousandKeys lists a service account far beyond the 1 MiB the
// client used to read, and settles an inconclusive 403 delete against it.
func TestTwentyThousandKeys(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t, emulator.WithDeleteMissingStatus(403))
	ids := seedKeys(t, b, 20000)
	// A loaded test machine may take longer than the default 10s to
	// serve 6 MB; this test is about size, not speed.
	b.c = b.emu.NewCentralIssuer(t, func(cfg *newcentral.Config) { cfg.Now = b.clock.Now; cfg.Upstream.Timeout = 2 * time.Minute })
	list, err := b.c.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	if len(list) != 20001 || list[20000].ID != ids[19999] {
		t.Fatalf("List returned %d keys, want 20,001 in order", len(list))
	}
	// Missing: 403, and the listing confirms it.
	if err := b.c.Delete(ctx, "no-such-key"); err != nil {
		t.Errorf("Delete of a missing key among 20,000 = %v", err)
	}
	// Present but refused: 403, and the listing shows it is still there.
	if err := b.emu.SetFault(emulator.RouteV2DeleteKey, emulator.Fault{Status: 403, Times: 1}); err != nil {
		t.Fatal(err)
	}
	if err := b.c.Delete(ctx, ids[12345]); err == nil {
		t.Error("a refused delete of a listed key succeeded")
	}
}

// TestExpiresOnCentralsClock runs Central's clock an hour behind the
// broker's. The expiry the broker computes must reach Central moved onto
// Central's clock, and come back moved onto the broker's.
func TestExpiresOnCentralsClock(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name   string
		offset time.Duration
		skew   bool
		moved  bool
	}{
		{"an hour behind, learnt", -time.Hour, true, true},
		{"an hour ahead, learnt", time.Hour, true, true},
		{"half a second, ignored", 500 * time.Millisecond, true, false},
		{"an hour behind, not learnt", -time.Hour, false, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t, emulator.WithClockOffset(tt.offset))
			reg := prometheus.NewRegistry()
			c := b.emu.NewCentralIssuer(t, func(cfg *newcentral.Config) {
				cfg.Now = b.clock.Now
				cfg.Upstream.Registerer, cfg.Upstream.Name = reg, "new_central"
				if tt.skew {
					cfg.Skew = upstream.NewClockSkew(b.clock.Now)
				}
			})
			// Any answer teaches the clock.
			if _, err := c.List(ctx); err != nil {
				t.Fatal(err)
			}
			expires := b.clock.Now().Add(10 * time.Minute)
			m, err := c.Mint(ctx, "ztb-x", expires)
			if err != nil {
				t.Fatalf("Mint: %v", err)
			}
			upstreamExpiry := keyTruth(t, b, m.ID).Expires
			wantUpstream := expires
			if tt.moved {
				wantUpstream = expires.Add(tt.offset)
			}
			if !upstreamExpiry.Equal(wantUpstream) {
				t.Errorf("expires sent = %s, want %s", upstreamExpiry, wantUpstream)
			}
			if tt.skew && !m.Expires.Equal(expires) {
				t.Errorf("Minted.Expires = %s, want %s on the broker's clock", m.Expires, expires)
			}
			if tt.skew {
				got := testutil.ToFloat64(gauge(t, reg))
				if d := got - tt.offset.Seconds(); d > 0.6 || d < -0.6 {
					t.Errorf("ztbroker_upstream_clock_skew_seconds = %v, want about %v", got, tt.offset.Seconds())
				}
			}
		})
	}
}

// TestRefusedCredentialIsRefreshed: a 401 asks the credential for a newer
// secret (rotated on another replica) and repeats the call once.
func TestRefusedCredentialIsRefreshed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	cred := upstream.NewAdminCredential("a-retired-key")
	refreshed := 0
	cred.SetRefresher(func(context.Context) error {
		refreshed++
		cred.Set(b.emu.AdminToken, upstream.AdminInfo{Source: upstream.SourceRotated})
		return nil
	}, nil)
	c := b.emu.NewCentralIssuer(t, func(cfg *newcentral.Config) { cfg.Credential = cred })
	if _, err := c.List(context.Background()); err != nil {
		t.Fatalf("List with a stale secret: %v", err)
	}
	if refreshed != 1 || b.emu.Count(emulator.RouteV2GetServiceAccount, http.StatusUnauthorized) != 1 {
		t.Errorf("refreshed %d times, %d refusals; want one of each", refreshed, b.emu.Count(emulator.RouteV2GetServiceAccount, 401))
	}
	// A refresh that finds nothing new does not loop.
	bad := upstream.NewAdminCredential("wrong")
	bad.SetRefresher(func(context.Context) error { return nil }, nil)
	c = b.emu.NewCentralIssuer(t, func(cfg *newcentral.Config) { cfg.Credential = bad })
	if _, err := c.List(context.Background()); err == nil {
		t.Error("List with a wrong secret succeeded")
	}
}

func seedKeys(t *testing.T, b *bundle, n int) []string {
	t.Helper()
	keys := make([]emulator.SeedKey, n)
	for i := range keys {
		keys[i] = emulator.SeedKey{Description: fmt.Sprintf("someone else's key %d", i), Expires: b.clock.Now().Add(time.Hour)}
	}
	ids, err := b.emu.SeedKeys(emulator.DefaultServiceAccount, keys)
	if err != nil {
		t.Fatal(err)
	}
	return ids
}

func keyTruth(t *testing.T, b *bundle, id string) emulator.KeyTruth {
	t.Helper()
	for _, a := range b.emu.Tokens().ServiceAccounts {
		for _, k := range a.Keys {
			if k.ID == id {
				return k
			}
		}
	}
	t.Fatalf("no key %s upstream", id)
	return emulator.KeyTruth{}
}

func alive(b *bundle, id string) bool {
	for _, a := range b.emu.Tokens().ServiceAccounts {
		for _, k := range a.Keys {
			if k.ID == id {
				return k.Alive
			}
		}
	}
	return false
}

func gauge(t *testing.T, reg *prometheus.Registry) prometheus.Collector {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() == "ztbroker_upstream_clock_skew_seconds" && len(f.GetMetric()) == 1 {
			g := prometheus.NewGauge(prometheus.GaugeOpts{Name: "x"})
			g.Set(f.GetMetric()[0].GetGauge().GetValue())
			return g
		}
	}
	t.Fatal("no ztbroker_upstream_clock_skew_seconds")
	return nil
}
