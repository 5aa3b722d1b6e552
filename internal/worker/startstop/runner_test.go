package startstop_test

import (
	"context"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/ztbroker/ztbroker/internal/worker/startstop"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRunner(t *testing.T) {
	t.Parallel()

	blockUntilDone := func(started chan<- struct{}) func(ctx context.Context) {
		return func(ctx context.Context) {
			started <- struct{}{}
			<-ctx.Done()
		}
	}

	t.Run("StopWithoutStart", func(t *testing.T) {
		t.Parallel()
		var r startstop.Runner
		r.Stop()
		r.Stop()
		if r.Running() {
			t.Fatal("Running() = true for a runner that never started")
		}
	})

	t.Run("SecondStartIsRefused", func(t *testing.T) {
		t.Parallel()
		var r startstop.Runner
		started := make(chan struct{}, 2)
		if !r.Start(t.Context(), blockUntilDone(started)) {
			t.Fatal("first Start refused")
		}
		<-started
		if r.Start(t.Context(), blockUntilDone(started)) {
			t.Fatal("second Start accepted while the first loop runs")
		}
		r.Stop()
		if len(started) != 0 {
			t.Fatal("a second loop ran")
		}
	})

	t.Run("StopWaitsForLoop", func(t *testing.T) {
		t.Parallel()
		var r startstop.Runner
		started := make(chan struct{})
		finished := make(chan struct{})
		r.Start(t.Context(), func(ctx context.Context) {
			close(started)
			<-ctx.Done()
			close(finished)
		})
		<-started
		r.Stop()
		select {
		case <-finished:
		default:
			t.Fatal("Stop returned before the loop finished")
		}
	})

	t.Run("ConcurrentStopsAndRestart", func(t *testing.T) {
		t.Parallel()
		var r startstop.Runner
		for range 3 {
			started := make(chan struct{}, 1)
			if !r.Start(t.Context(), blockUntilDone(started)) {
				t.Fatal("Start after Stop refused")
			}
			<-started
			var wg sync.WaitGroup
			for range 4 {
				wg.Go(r.Stop)
			}
			wg.Wait()
			if r.Running() {
				t.Fatal("Running() = true after Stop")
			}
		}
	})

	t.Run("ParentCancelEndsLoop", func(t *testing.T) {
		t.Parallel()
		var r startstop.Runner
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		r.Start(ctx, func(ctx context.Context) {
			<-ctx.Done()
			close(done)
		})
		cancel()
		<-done
		r.Stop()
	})
}
