package secreteraser_test

import (
	"errors"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/panics"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/store/memstore"
	"github.com/ztbroker/ztbroker/internal/worker/secreteraser"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

var discard = slog.New(slog.DiscardHandler)

func sealed(t *testing.T, st store.Store, id string, until time.Time) {
	t.Helper()
	ctx := t.Context()
	if _, err := st.CreatePending(ctx, store.CreatePendingParams{ID: id, Purpose: "p", Owner: "api_key:a", Now: t0,
		ExpireTime: t0.Add(time.Hour), MaxExpireTime: t0.Add(time.Hour), IdempotencyKey: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Activate(ctx, store.ActivateParams{ID: id, UpstreamTokenID: "k-" + id, Now: t0,
		SealedSecret: []byte("ciphertext"), SealedUntil: until}); err != nil {
		t.Fatal(err)
	}
}

func TestErasesOnlyPastTheWindow(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	sealed(t, st, "old", t0.Add(time.Minute))
	sealed(t, st, "fresh", t0.Add(time.Hour))
	now := t0.Add(10 * time.Minute)
	e, err := secreteraser.New(secreteraser.Config{Store: st, Logger: discard, Panics: panics.New(discard),
		Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	n, err := e.RunOnce(t.Context())
	if err != nil || n != 1 {
		t.Fatalf("RunOnce = %d, %v; want 1 erased", n, err)
	}
	// Look past the window: only what was erased is gone for good.
	if _, err := st.SealedSecret(t.Context(), store.SealedSecretParams{ID: "fresh", Now: t0}); err != nil {
		t.Errorf("fresh secret: %v", err)
	}
	if _, err := st.SealedSecret(t.Context(), store.SealedSecretParams{ID: "old", Now: t0}); !isNotFound(err) {
		t.Errorf("old secret still readable: %v", err)
	}
}

func isNotFound(err error) bool { return errors.Is(err, errs.NotFound) }

func TestLoopRunsAndStops(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	sealed(t, st, "old", t0)
	var passes atomic.Int32
	done := make(chan int, 1)
	e, err := secreteraser.New(secreteraser.Config{Store: st, Logger: discard, Panics: panics.New(discard),
		Now: func() time.Time { return t0.Add(time.Hour) },
		OnPass: func(n int, err error) {
			if passes.Add(1) == 1 {
				done <- n
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := e.Start(t.Context()); err == nil {
		t.Error("second Start succeeded")
	}
	if n := <-done; n != 1 {
		t.Errorf("first pass erased %d, want 1", n)
	}
	e.Stop()
	e.Stop()
}
