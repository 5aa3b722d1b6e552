package client_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/ztbroker/ztbroker/client"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/testing/brokertest"
)

// TestTokenSourceKeepsAValidToken calls Token in a loop, ten fake seconds
// apart, for three maximum lease lifetimes. Every token it gets works at
// the emulator and is valid for the minimum validity; the source renews
// each lease and replaces it when it reaches its maximum; by the
// emulator's own record no two of its tokens were ever alive at the same
// instant; and Close revokes the last lease.
func TestTokenSourceKeepsAValidToken(t *testing.T) {
	t.Parallel()
	bu := setup(t)
	ctx := testContext(t)
	ts := bu.c.TokenSource(brokertest.PurposeNC, client.Labels(map[string]string{"app": "billing"}))

	expiries := map[string]map[time.Time]bool{} // lease id -> expiries seen
	var leases []string
	var secrets []string
	end := bu.clock.Now().Add(3 * brokertest.MaxTTL)
	for bu.clock.Now().Before(end) {
		tok, err := ts.Token(ctx)
		if err != nil {
			t.Fatalf("at %s: Token: %v", bu.clock.Now(), err)
		}
		if left := tok.Expiry().Sub(bu.clock.Now()); left < client.DefaultMinValidity {
			t.Fatalf("at %s: token valid for %s more, want at least %s", bu.clock.Now(), left, client.DefaultMinValidity)
		}
		if got := bu.b.TryToken(ctx, tok.Scheme, tok.Value); got != http.StatusOK {
			t.Fatalf("at %s: the emulator answered %d to lease %s's token", bu.clock.Now(), got, tok.Lease.ID)
		}
		id := tok.Lease.ID
		if expiries[id] == nil {
			expiries[id] = map[time.Time]bool{}
			leases = append(leases, id)
			secrets = append(secrets, tok.Value)
		}
		expiries[id][tok.Expiry()] = true
		bu.settle(t)
		if n := len(bu.b.LiveTokens()); n != 1 {
			t.Fatalf("at %s: the emulator has %d live tokens, want 1", bu.clock.Now(), n)
		}
		bu.advance(t, 10*time.Second)
	}

	// 45 minutes of 15-minute leases: at least three leases, each renewed.
	if len(leases) < 3 {
		t.Errorf("the source used %d leases in three maximum lifetimes, want at least 3", len(leases))
	}
	for _, id := range leases[:len(leases)-1] {
		if n := len(expiries[id]); n < 2 {
			t.Errorf("lease %s was never renewed (%d expiries seen)", id, n)
		}
		l, err := bu.b.Store.GetLease(ctx, store.GetLeaseParams{ID: id})
		if err != nil {
			t.Fatal(err)
		}
		if l.State != lease.StateRevoked || l.RevokeReason != "replaced by a new lease" {
			t.Errorf("replaced lease %s is %s (%q), want revoked on hand-over", id, l.State, l.RevokeReason)
		}
		if !l.ExpireTime.Equal(l.MaxExpireTime) {
			t.Errorf("lease %s was replaced before reaching its maximum: expires %s, max %s", id, l.ExpireTime, l.MaxExpireTime)
		}
	}
	if n, at := maxOverlap(bu.tokenLives()); n != 1 {
		t.Errorf("the emulator had %d of the source's tokens alive at %s, want 1 at every instant", n, at)
	}
	for _, id := range leases {
		if got := mustLease(t, bu, id).Labels["app"]; got != "billing" {
			t.Errorf("lease %s has label app=%q, want the source's billing", id, got)
		}
	}

	if err := ts.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	last := leases[len(leases)-1]
	if l := mustLease(t, bu, last); l.State != lease.StateRevoked || l.RevokeReason != "token source closed" {
		t.Errorf("last lease %s after Close is %s (%q), want revoked", last, l.State, l.RevokeReason)
	}
	if n := len(bu.b.LiveTokens()); n != 0 {
		t.Errorf("after Close the emulator has %d live tokens, want 0", n)
	}
	if _, err := ts.Token(ctx); !errors.Is(err, client.ErrClosed) {
		t.Errorf("Token after Close: %v, want ErrClosed", err)
	}
	bu.b.CheckNoSecret(t, secrets, bu.logs.String())
}

func mustLease(t *testing.T, bu *bundle, id string) *lease.Lease {
	t.Helper()
	l, err := bu.b.Store.GetLease(context.Background(), store.GetLeaseParams{ID: id})
	if err != nil {
		t.Fatalf("read lease %s: %v", id, err)
	}
	return l
}

// TestTokenSourceRidesOutAnOutage stops the broker while the source holds
// a token. Token keeps returning that token while it is valid for the
// minimum validity, then reports the failure at once (it does not wait
// for the broker); once the broker is back the source has a new token by
// its next retry, and the emulator never saw two of its tokens alive.
func TestTokenSourceRidesOutAnOutage(t *testing.T) {
	t.Parallel()
	bu := setup(t)
	ctx := testContext(t)
	ts := bu.c.TokenSource(brokertest.PurposeNC, client.TTL(2*time.Minute), client.MinValidity(20*time.Second))
	first, err := ts.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bu.settle(t)
	if err := bu.b.Stop(); err != nil {
		t.Fatal(err)
	}
	freshUntil := first.Expiry().Add(-20 * time.Second)
	var failed error
	for bu.clock.Now().Before(first.Expiry().Add(time.Minute)) {
		tok, err := ts.Token(ctx)
		now := bu.clock.Now()
		switch {
		case now.Before(freshUntil) && err != nil:
			t.Fatalf("at %s, %s before the token's expiry: Token failed: %v", now, first.Expiry().Sub(now), err)
		case now.Before(freshUntil) && tok != first:
			t.Fatalf("at %s: Token returned lease %s, want the current one", now, tok.Lease.ID)
		case !now.Before(freshUntil) && err == nil:
			t.Fatalf("at %s, %s before the token's expiry and the broker down: Token returned a token", now, first.Expiry().Sub(now))
		case err != nil:
			failed = err
		}
		bu.advance(t, 5*time.Second)
	}
	if status.Code(failed) != codes.Unavailable {
		t.Errorf("Token's error during the outage = %v, want UNAVAILABLE", failed)
	}

	bu.b.Restart(t)
	bu.connected(t)
	// The loop retries within its backoff, at most ten seconds.
	bu.advance(t, 11*time.Second)
	tok, err := ts.Token(ctx)
	if err != nil {
		t.Fatalf("after the broker came back: %v", err)
	}
	if tok.Lease.ID == first.Lease.ID {
		t.Errorf("after the first lease expired the source still returns it")
	}
	if got := bu.b.TryToken(ctx, tok.Scheme, tok.Value); got != http.StatusOK {
		t.Errorf("the new token: emulator answered %d", got)
	}
	if n, at := maxOverlap(bu.tokenLives()); n != 1 {
		t.Errorf("the emulator had %d of the source's tokens alive at %s, want 1", n, at)
	}
}
