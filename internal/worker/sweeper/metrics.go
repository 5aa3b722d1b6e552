package sweeper

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ztbroker/ztbroker/internal/worker"
)

type metrics struct {
	swept   *prometheus.CounterVec
	deleted *prometheus.CounterVec
	runs    *prometheus.CounterVec
}

func newMetrics(d *worker.Deps) (*metrics, error) {
	m := &metrics{
		swept: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_sweeper_leases_swept_total",
			Help: "Pending leases of interrupted mints marked failed, by purpose.",
		}, []string{"purpose"}),
		deleted: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_sweeper_tokens_deleted_total",
			Help: "Upstream tokens of interrupted mints deleted, by upstream kind.",
		}, []string{"upstream"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_sweeper_runs_total",
			Help: "Sweeper passes, by result (ok or error).",
		}, []string{"result"}),
	}
	if err := d.Register(m.swept, m.deleted, m.runs); err != nil {
		return nil, fmt.Errorf("sweeper: register metrics: %w", err)
	}
	return m, nil
}
