package reconcile

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ztbroker/ztbroker/internal/worker"
)

type metrics struct {
	orphans     *prometheus.CounterVec
	vanished    *prometheus.CounterVec
	runs        *prometheus.CounterVec
	lastSuccess prometheus.Gauge
}

func newMetrics(d *worker.Deps) (*metrics, error) {
	m := &metrics{
		orphans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_reconcile_orphans_deleted_total",
			Help: "Broker-named upstream tokens without a live lease that reconciliation deleted, by upstream kind.",
		}, []string{"upstream"}),
		vanished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_reconcile_vanished_total",
			Help: "Active leases whose token was found missing upstream, by upstream kind.",
		}, []string{"upstream"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_reconcile_runs_total",
			Help: "Reconciliation runs, by result (ok or error).",
		}, []string{"result"}),
		lastSuccess: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ztbroker_reconcile_last_success_timestamp_seconds",
			Help: "Unix time of the last reconciliation run that finished without error.",
		}),
	}
	if err := d.Register(m.orphans, m.vanished, m.runs, m.lastSuccess); err != nil {
		return nil, fmt.Errorf("reconcile: register metrics: %w", err)
	}
	return m, nil
}
