package reconcile

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ztbroker/ztbroker/internal/worker"
)

type metrics struct {
	foreign         *prometheus.GaugeVec
	foreignDetected *prometheus.CounterVec
	foreignDeleted  *prometheus.CounterVec
	orphans         *prometheus.CounterVec
	vanished        *prometheus.CounterVec
	runs            *prometheus.CounterVec
	lastSuccess     prometheus.Gauge
}

func newMetrics(d *worker.Deps) (*metrics, error) {
	m := &metrics{
		foreign: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ztbroker_upstream_foreign_credentials",
			Help: "Credentials on the broker's upstream accounts that it did not mint and that are not its admin credential, at the last reconciliation. Anything above zero is an alarm.",
		}, []string{"upstream"}),
		foreignDetected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_upstream_foreign_credentials_detected_total",
			Help: "Foreign credentials (kind key) and new service accounts (kind service_account) reported for the first time, by upstream.",
		}, []string{"upstream", "kind"}),
		foreignDeleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_upstream_foreign_credentials_deleted_total",
			Help: "Foreign credentials deleted by reconciliation (foreign_keys: delete), by upstream.",
		}, []string{"upstream"}),
		orphans: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_reconcile_orphans_deleted_total",
			Help: "Broker-named upstream tokens without a live lease that reconciliation deleted, by upstream.",
		}, []string{"upstream"}),
		vanished: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_reconcile_vanished_total",
			Help: "Active leases whose token was found missing upstream, by upstream.",
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
	if err := d.Register(m.foreign, m.foreignDetected, m.foreignDeleted, m.orphans, m.vanished, m.runs, m.lastSuccess); err != nil {
		return nil, fmt.Errorf("reconcile: register metrics: %w", err)
	}
	return m, nil
}
