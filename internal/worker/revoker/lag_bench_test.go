package revoker_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/upstream/newcentral"
	"github.com/ztbroker/ztbroker/internal/worker/revoker"
	"github.com/ztbroker/ztbroker/internal/worker/workertest"
)

const benchLeases = 1000

// scenario is one revocation storm: benchLeases leases on one New Central
// account, revoked by one worker with default settings.
type scenario struct {
	env     *workertest.Env
	w       *revoker.Worker
	reg     *prometheus.Registry
	batches *workertest.Recorder[revoker.BatchResult]
}

// newScenario mints the leases, the i-th expiring at base + i·spread/n,
// and starts a worker that has already looked once and found nothing due.
// clientLimit is the client's own rate limit (negative: none).
func newScenario(b *testing.B, base time.Duration, spread time.Duration, clientLimit float64) (*scenario, time.Time) {
	b.Helper()
	env := workertest.NewEnv(b)
	nc := env.Emu.NewCentralIssuer(b, func(c *newcentral.Config) { c.Upstream.RateLimit = clientLimit })
	env.Registry = upstream.NewRegistry(nc)
	env.NewCentral = nc
	start := env.Clock.Now().Add(base)
	for i := range benchLeases {
		env.Active(b, nc, "bench", start.Add(spread*time.Duration(i)/benchLeases))
	}
	s := &scenario{env: env, reg: prometheus.NewRegistry(), batches: workertest.NewRecorder[revoker.BatchResult]()}
	w, err := revoker.New(revoker.Config{
		Deps: env.Deps(s.reg), OnBatch: s.batches.Record,
	})
	if err != nil {
		b.Fatal(err)
	}
	s.w = w
	if err := w.Start(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(w.Stop)
	s.batches.Wait(b, idle)
	return s, start
}

// drain waits until every lease is revoked or one is given up on, and
// returns how many were revoked.
func (s *scenario) drain(b *testing.B) (revoked, failed int) {
	b.Helper()
	s.batches.Wait(b, func(r revoker.BatchResult) bool {
		if r.Err != nil {
			b.Fatalf("store error during the storm: %v", r.Err)
		}
		revoked += r.Revoked
		failed += r.Failed
		return revoked+failed >= benchLeases
	})
	return revoked, failed
}

// lags reads each revoked lease's lag (completion minus expiry) back from
// the store, sorted.
func (s *scenario) lags(b *testing.B) []time.Duration {
	b.Helper()
	res, err := s.env.Store.ListLeases(context.Background(), store.ListLeasesParams{
		State: lease.StateRevoked, PageSize: benchLeases + 1,
	})
	if err != nil {
		b.Fatal(err)
	}
	out := make([]time.Duration, 0, len(res.Leases))
	for _, l := range res.Leases {
		out = append(out, l.UpdatedAt.Sub(l.ExpireTime))
	}
	slices.Sort(out)
	return out
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(q*float64(len(sorted))))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkRevocationLag1000 lets 1,000 leases expire within one second,
// in real time, against the in-process emulator with no added delay, and
// measures how long after its expiry each token was deleted.
func BenchmarkRevocationLag1000(b *testing.B) {
	var all []time.Duration
	for range b.N {
		b.StopTimer()
		s, start := newScenario(b, time.Hour, time.Second, -1)
		// Jump to just before the first expiry and let time run.
		s.env.Clock.Set(start.Add(-10 * time.Millisecond))
		s.env.Clock.Run()
		s.w.Nudge(start)
		b.StartTimer()
		if revoked, failed := s.drain(b); revoked != benchLeases {
			b.Fatalf("revoked %d, gave up on %d", revoked, failed)
		}
		b.StopTimer()
		all = append(all, s.lags(b)...)
		s.w.Stop()
	}
	slices.Sort(all)
	p50, p99, worst := quantile(all, 0.50), quantile(all, 0.99), all[len(all)-1]
	b.ReportMetric(ms(p50), "p50-lag-ms")
	b.ReportMetric(ms(p99), "p99-lag-ms")
	b.ReportMetric(ms(worst), "max-lag-ms")
	b.Logf("%d leases expiring within 1s: revocation lag p50 %s, p99 %s, max %s", len(all), p50, p99, worst)
}

// BenchmarkRevocationDrain1000At100rps makes 1,000 leases due at once with
// the emulator refusing more than 100 requests a second, and measures how
// long the worker takes to delete every token and how many 429s reached
// the client, with and without the client's own limiter.
func BenchmarkRevocationDrain1000At100rps(b *testing.B) {
	for _, bc := range []struct {
		name        string
		clientLimit float64
	}{
		{"client-limit=none", -1},
		{"client-limit=100rps", upstream.DefaultRateLimit},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var drain time.Duration
			var throttled, failures, gaveUp int
			for range b.N {
				b.StopTimer()
				s, start := newScenario(b, time.Minute, 0, bc.clientLimit)
				s.env.Emu.SetRateLimit(100)
				before := s.env.Emu.Count(emulator.RouteV2DeleteKey, 429)
				s.env.Clock.Run()
				s.env.Clock.Set(start)
				began := time.Now()
				s.w.Nudge(start)
				b.StartTimer()
				_, failed := s.drain(b)
				b.StopTimer()
				drain += time.Since(began)
				throttled += s.env.Emu.Count(emulator.RouteV2DeleteKey, 429) - before
				failures += int(workertest.Metric(b, s.reg, "ztbroker_revoke_failures_total", nil))
				gaveUp += failed
				s.w.Stop()
			}
			n := float64(b.N)
			b.ReportMetric(drain.Seconds()/n, "drain-s")
			b.ReportMetric(float64(throttled)/n, "429s")
			b.ReportMetric(float64(failures)/n, "failed-attempts")
			b.ReportMetric(float64(gaveUp)/n, "revoke_failed")
			b.Logf("%s: drained %d leases in %s; %d 429s reached the client, %d failed attempts, %d revoke_failed",
				bc.name, benchLeases, drain/time.Duration(b.N), throttled/b.N, failures/b.N, gaveUp/b.N)
		})
	}
}
