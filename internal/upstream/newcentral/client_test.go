package newcentral_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator/emulatortest"
	"github.com/ztbroker/ztbroker/internal/upstream/newcentral"
)

// fixedClock is a settable clock for the emulator.
type fixedClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fixedClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fixedClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type bundle struct {
	clock *fixedClock
	emu   *emulatortest.Emulator
	c     *newcentral.Client
}

func setup(t *testing.T, opts ...emulator.Option) *bundle {
	t.Helper()
	clock := &fixedClock{now: time.Date(2026, 8, 1, 12, 0, 0, 0, time.UTC)}
	emu := emulatortest.Start(t, append([]emulator.Option{emulator.WithClock(clock.Now)}, opts...)...)
	c := emu.NewCentralIssuer(t, func(cfg *newcentral.Config) { cfg.Now = clock.Now })
	return &bundle{clock: clock, emu: emu, c: c}
}

func TestIssuerIdentity(t *testing.T) {
	t.Parallel()
	b := setup(t)
	got := []string{b.c.Kind(), b.c.Account(), b.c.APIBaseURL(), b.c.AuthScheme()}
	want := []string{lease.UpstreamNewCentral, emulator.DefaultServiceAccount, b.emu.URL, "Bearer"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("identity (-want +got):\n%s", diff)
	}
}

func TestMintUseDeleteList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	expires := b.clock.Now().Add(90 * time.Minute)

	m, err := b.c.Mint(ctx, "ztb-ci-0001", expires)
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	if !m.Expires.Equal(expires) {
		t.Errorf("Minted.Expires = %v, want %v", m.Expires, expires)
	}
	keys := b.emu.Tokens().ServiceAccounts[0].Keys
	if len(keys) != 2 || !keys[0].Admin {
		t.Fatalf("ground truth has keys %+v, want the admin key and one more", keys)
	}
	want := emulator.KeyTruth{
		ID: m.ID, Description: "ztb-ci-0001", SHA256: lease.HashToken(m.Secret),
		Expires: expires, CreationTime: b.clock.Now(), Alive: true,
	}
	if diff := cmp.Diff(want, keys[1]); diff != "" {
		t.Errorf("minted key (-want +got):\n%s", diff)
	}

	if got := b.emu.TryToken(ctx, b.c.AuthScheme(), m.Secret); got != http.StatusOK {
		t.Fatalf("minted key on /api/v2/org = %d, want 200", got)
	}
	list, err := b.c.List(ctx)
	if err != nil {
		t.Fatalf("List: %v", err)
	}
	now := b.clock.Now()
	wantList := []upstream.Token{
		{ID: b.emu.AdminKeyID(), Name: emulator.DefaultAdminKeyDescription, Expires: now.Add(emulator.DefaultAdminKeyLifetime),
			Created: now, LastUsed: now, Protected: true},
		{ID: m.ID, Name: "ztb-ci-0001", Expires: expires, Created: now, LastUsed: now},
	}
	if diff := cmp.Diff(wantList, list); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}
	if err := b.c.Delete(ctx, m.ID); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if got := b.emu.TryToken(ctx, b.c.AuthScheme(), m.Secret); got != http.StatusUnauthorized {
		t.Fatalf("deleted key on /api/v2/org = %d, want 401", got)
	}
	if list, err = b.c.List(ctx); err != nil || len(list) != 1 || !list[0].Protected {
		t.Fatalf("List after delete = %v, %v; want the admin key alone", list, err)
	}
}

func TestExpiry(t *testing.T) {
	t.Parallel()
	for _, remove := range []bool{false, true} {
		name := map[bool]string{false: "expired keys linger", true: "expired keys vanish"}[remove]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			b := setup(t, emulator.WithRemoveExpiredKeys(remove))
			m, err := b.c.Mint(ctx, "ztb-short", b.clock.Now().Add(time.Minute))
			if err != nil {
				t.Fatalf("Mint: %v", err)
			}
			b.clock.Add(time.Minute)
			if got := b.emu.TryToken(ctx, "Bearer", m.Secret); got != http.StatusUnauthorized {
				t.Errorf("expired key = %d, want 401", got)
			}
			list, err := b.c.List(ctx)
			if err != nil {
				t.Fatalf("List: %v", err)
			}
			if got, want := len(list)-1, map[bool]int{false: 1, true: 0}[remove]; got != want {
				t.Errorf("List has %d keys, want %d", got, want)
			}
			if err := b.c.Delete(ctx, m.ID); err != nil {
				t.Errorf("Delete of an expired key: %v", err)
			}
		})
	}
}

func TestDeleteMissing(t *testing.T) {
	t.Parallel()
	for _, status := range []int{404, 403} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			t.Parallel()
			b := setup(t, emulator.WithDeleteMissingStatus(status))
			if err := b.c.Delete(context.Background(), "no-such-key"); err != nil {
				t.Errorf("Delete of a missing key = %v, want nil", err)
			}
			if got := b.emu.Count(emulator.RouteV2DeleteKey, status); got != 1 {
				t.Errorf("emulator answered %d %d times, want 1", status, got)
			}
		})
	}
}

// TestDeleteForbiddenKeyStillListed checks that a 403 is not taken for
// "gone" when the key is still on the account.
func TestDeleteForbiddenKeyStillListed(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := setup(t)
	m, err := b.c.Mint(ctx, "ztb-x", b.clock.Now().Add(time.Hour))
	if err != nil {
		t.Fatalf("Mint: %v", err)
	}
	if err := b.emu.SetFault(emulator.RouteV2DeleteKey, emulator.Fault{Status: 403, Times: 1}); err != nil {
		t.Fatal(err)
	}
	err = b.c.Delete(ctx, m.ID)
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.StatusCode != 403 || ue.Retryable {
		t.Fatalf("Delete = %v, want a permanent 403 error", err)
	}
	if !b.emu.Tokens().ServiceAccounts[0].Keys[1].Alive {
		t.Error("key should still be alive")
	}
}

// TestProxy404IsNotGone puts a proxy in front of the emulator that answers
// DELETE with an HTML 404, as a misrouted load balancer would.
func TestProxy404IsNotGone(t *testing.T) {
	t.Parallel()
	emu := emulatortest.Start(t)
	tests := []struct {
		name        string
		contentType string
		body        string
	}{
		{"html", "text/html", "<html><body>404 Not Found</body></html>"},
		{"plain", "text/plain", "404 page not found"},
		{"json without message", "application/json", `{"error":"nope"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", tt.contentType)
				w.WriteHeader(http.StatusNotFound)
				_, _ = w.Write([]byte(tt.body))
			}))
			t.Cleanup(proxy.Close)
			c := emu.NewCentralIssuer(t, func(cfg *newcentral.Config) {
				cfg.BaseURL, cfg.HTTPClient = proxy.URL, proxy.Client()
			})
			err := c.Delete(context.Background(), "some-key")
			var ue *upstream.Error
			if !errors.As(err, &ue) || ue.StatusCode != 404 {
				t.Fatalf("Delete through a proxy 404 = %v, want a 404 error", err)
			}
		})
	}
}

func TestThrottledMint(t *testing.T) {
	t.Parallel()
	for _, style := range []string{emulator.ThrottleRetryAfter, emulator.ThrottleReset} {
		t.Run(style, func(t *testing.T) {
			t.Parallel()
			b := setup(t, emulator.WithFault(emulator.RouteV2CreateKey,
				emulator.Fault{Throttle: emulator.Duration(3 * time.Second), ThrottleHeaders: style}))
			_, err := b.c.Mint(context.Background(), "ztb-x", b.clock.Now().Add(time.Hour))
			if !upstream.IsRetryable(err) || upstream.RetryAfterOf(err) != 3*time.Second {
				t.Fatalf("Mint = %v (retry after %v), want retryable after 3s", err, upstream.RetryAfterOf(err))
			}
		})
	}
}

func TestFaultsClassified(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fault     emulator.Fault
		retryable bool
		deadline  bool
	}{
		{"503", emulator.Fault{Status: 503}, true, false},
		{"500 by error rate", emulator.Fault{ErrorRate: 1}, true, false},
		{"400", emulator.Fault{Status: 400}, false, false},
		{"hang", emulator.Fault{Hang: true}, true, true},
		{"latency beyond the timeout", emulator.Fault{Latency: emulator.Duration(time.Hour)}, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, emulator.WithFault(emulator.RouteV2CreateKey, tt.fault))
			c := b.emu.NewCentralIssuer(t, func(cfg *newcentral.Config) {
				// Only the faults that never answer need a short timeout;
				// on a loaded machine it would cut the others' answers off.
				if tt.deadline {
					cfg.Upstream.Timeout = 50 * time.Millisecond
				}
			})
			_, err := c.Mint(context.Background(), "ztb-x", b.clock.Now().Add(time.Hour))
			if err == nil {
				t.Fatal("Mint succeeded under a fault")
			}
			if got := upstream.IsRetryable(err); got != tt.retryable {
				t.Errorf("IsRetryable(%v) = %v, want %v", err, got, tt.retryable)
			}
			if got := errors.Is(err, context.DeadlineExceeded); got != tt.deadline {
				t.Errorf("errors.Is(%v, DeadlineExceeded) = %v, want %v", err, got, tt.deadline)
			}
		})
	}
}

func TestFaultOnceThenRecovers(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.WithFault(emulator.RouteV2CreateKey, emulator.Fault{Status: 502, Times: 1}))
	ctx := context.Background()
	if _, err := b.c.Mint(ctx, "a", b.clock.Now().Add(time.Hour)); !upstream.IsRetryable(err) {
		t.Fatalf("first Mint = %v, want retryable", err)
	}
	if _, err := b.c.Mint(ctx, "a", b.clock.Now().Add(time.Hour)); err != nil {
		t.Fatalf("second Mint = %v", err)
	}
	want := map[int]int{502: 1, 200: 1}
	if diff := cmp.Diff(want, b.emu.Counters()[emulator.RouteV2CreateKey]); diff != "" {
		t.Errorf("counters (-want +got):\n%s", diff)
	}
}

func TestBadAdminKeyIsPermanent(t *testing.T) {
	t.Parallel()
	b := setup(t)
	c := b.emu.NewCentralIssuer(t, func(cfg *newcentral.Config) { cfg.Credential = upstream.NewAdminCredential("not-the-key") })
	_, err := c.Mint(context.Background(), "x", b.clock.Now().Add(time.Hour))
	var ue *upstream.Error
	if !errors.As(err, &ue) || ue.StatusCode != 401 || ue.Retryable {
		t.Fatalf("Mint with a bad admin key = %v, want a permanent 401", err)
	}
	if !errors.Is(err, errs.FailedPrecondition) {
		t.Errorf("%v does not wrap errs.FailedPrecondition", err)
	}
}

func TestMintNeedsExpiry(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if _, err := b.c.Mint(context.Background(), "x", time.Time{}); err == nil {
		t.Fatal("Mint without expiry succeeded")
	}
	if got := b.emu.Count(emulator.RouteV2CreateKey, 200); got != 0 {
		t.Errorf("a key was created anyway")
	}
}

func TestConfigValidation(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		cfg  newcentral.Config
	}{
		{"no base url", newcentral.Config{AdminKey: "k", ServiceAccountID: "sa"}},
		{"relative base url", newcentral.Config{BaseURL: "/api", AdminKey: "k", ServiceAccountID: "sa"}},
		{"no admin key", newcentral.Config{BaseURL: "https://x", ServiceAccountID: "sa"}},
		{"no service account", newcentral.Config{BaseURL: "https://x", AdminKey: "k"}},
		{"bad path", newcentral.Config{BaseURL: "https://x", AdminKey: "k", ServiceAccountID: "sa", DeleteKeyPath: "/api/v2/api-key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if _, err := newcentral.New(tt.cfg); err == nil {
				t.Fatal("New accepted an invalid config")
			}
		})
	}
}
