package startstop_test

import (
	"context"
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/worker/startstop"
)

func TestSleep(t *testing.T) {
	t.Parallel()

	t.Run("CancelledContextEndsWait", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		if startstop.Sleep(ctx, time.Hour) {
			t.Fatal("Sleep reported a full wait on a cancelled context")
		}
	})

	t.Run("FullWait", func(t *testing.T) {
		t.Parallel()
		if !startstop.Sleep(t.Context(), time.Nanosecond) {
			t.Fatal("Sleep reported cancellation on a live context")
		}
	})
}
