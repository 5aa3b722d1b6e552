package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// TestWatchHealthSetsReady drives the watcher one pass at a time: each
// ping announces itself and waits for the test's answer, so when the next
// pass has begun the previous verdict is published and nothing changes it
// until the test answers again.
func TestWatchHealthSetsReady(t *testing.T) {
	t.Parallel()
	hs := health.NewServer()
	ready := newReadyGauge()
	started, answers, stop := make(chan struct{}), make(chan error), make(chan struct{})
	ping := func(ctx context.Context) error {
		select {
		case started <- struct{}{}:
		case <-stop:
			return context.Canceled
		}
		// Both waits ignore the ping's own deadline, which is as short as
		// the interval: on a loaded machine it passes before the test
		// answers, and a ping that gave up would change the gauge under
		// the test's feet or leave the test waiting for a reader forever.
		select {
		case err := <-answers:
			return err
		case <-stop:
			return context.Canceled
		}
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchHealth(ctx, hs, ready, ping, time.Millisecond)
	}()
	t.Cleanup(func() { close(stop); cancel(); <-done })

	steps := []struct {
		ping       error
		wantReady  float64
		wantStatus healthpb.HealthCheckResponse_ServingStatus
	}{
		{nil, 1, healthpb.HealthCheckResponse_SERVING},
		{errors.New("database down"), 0, healthpb.HealthCheckResponse_NOT_SERVING},
		{nil, 1, healthpb.HealthCheckResponse_SERVING},
	}
	<-started
	for i, s := range steps {
		answers <- s.ping
		<-started
		if got := testutil.ToFloat64(ready); got != s.wantReady {
			t.Errorf("after ping %d (%v): ztbroker_ready = %v, want %v", i, s.ping, got, s.wantReady)
		}
		resp, err := hs.Check(t.Context(), &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatal(err)
		}
		if resp.GetStatus() != s.wantStatus {
			t.Errorf("after ping %d (%v): health = %v, want %v", i, s.ping, resp.GetStatus(), s.wantStatus)
		}
	}
}
