package retention

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ztbroker/ztbroker/internal/worker"
)

type metrics struct {
	leasesDeleted      prometheus.Counter
	partitionsDropped  prometheus.Counter
	auditEventsDropped prometheus.Counter
	partitionsCreated  prometheus.Counter
	runs               *prometheus.CounterVec
}

func newMetrics(d *worker.Deps) (*metrics, error) {
	m := &metrics{
		leasesDeleted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ztbroker_retention_leases_deleted_total",
			Help: "Ended leases deleted after their retention.",
		}),
		partitionsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ztbroker_retention_audit_partitions_dropped_total",
			Help: "Monthly audit partitions dropped after their retention.",
		}),
		auditEventsDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ztbroker_retention_audit_events_dropped_total",
			Help: "Audit events removed with the monthly partitions that held them.",
		}),
		partitionsCreated: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ztbroker_retention_audit_partitions_created_total",
			Help: "Monthly audit partitions made ahead of time or for events that arrived without one.",
		}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_retention_runs_total",
			Help: "Retention passes, by task (leases or audit) and result (ok, busy or error).",
		}, []string{"task", "result"}),
	}
	if err := d.Register(m.leasesDeleted, m.partitionsDropped, m.auditEventsDropped, m.partitionsCreated, m.runs); err != nil {
		return nil, fmt.Errorf("retention: register metrics: %w", err)
	}
	return m, nil
}
