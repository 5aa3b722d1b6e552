package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// newReadyGauge is ztbroker_ready. /readyz tells the kubelet and load
// balancers; the gauge tells Prometheus, which still scrapes a replica
// that is out of its Service, so an alert can say which one is stuck.
func newReadyGauge() prometheus.Gauge {
	return prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "ztbroker_ready",
		Help: "1 while this replica's PostgreSQL check passes (the check behind gRPC health and /readyz), else 0.",
	})
}

// watchHealth reports SERVING only while the store answers, so load
// balancers stop sending issuance to a replica that cannot record leases,
// and sets ready to the same verdict.
func watchHealth(ctx context.Context, hs *health.Server, ready prometheus.Gauge, ping func(context.Context) error, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, every)
		err := ping(pctx)
		cancel()
		st, up := healthpb.HealthCheckResponse_SERVING, 1.0
		if err != nil {
			st, up = healthpb.HealthCheckResponse_NOT_SERVING, 0
		}
		hs.SetServingStatus("", st)
		hs.SetServingStatus(ztbrokerv1.TokenBroker_ServiceDesc.ServiceName, st)
		ready.Set(up)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
