package revoker

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/worker"
)

// Result label values of ztbroker_leases_revoked_total.
const (
	resultOK           = "ok"
	resultRevokeFailed = "revoke_failed"
)

type metrics struct {
	revoked          *prometheus.CounterVec
	lag              prometheus.Histogram
	failures         *prometheus.CounterVec
	expiredUnrevoked *prometheus.CounterVec
	noUpstream       *prometheus.CounterVec
}

func newMetrics(d *worker.Deps) (*metrics, error) {
	m := &metrics{
		revoked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_leases_revoked_total",
			Help: "Leases whose revocation ended, by purpose, the upstream the lease was minted on, reason (expired or requested) and result (ok or revoke_failed).",
		}, []string{"purpose", "upstream", "reason", "result"}),
		lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "ztbroker_revocation_lag_seconds",
			Help: "Time from a lease's expiry to its token's deletion upstream, for expired leases.",
			// Sub-second is the healthy case; the tail shows backoff and
			// outages, up to the one-hour slow retry.
			Buckets: []float64{0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 900, 3600},
		}),
		failures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_revoke_failures_total",
			Help: "Failed upstream delete attempts, by purpose and the upstream the lease was minted on.",
		}, []string{"purpose", "upstream"}),
		expiredUnrevoked: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_leases_expired_unrevoked_total",
			Help: "Leases that reached their expiry without anyone revoking them, by purpose; a client whose pipeline does not clean up.",
		}, []string{"purpose"}),
		noUpstream: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_revoke_unconfigured_upstream_total",
			Help: "Revocation attempts of leases whose upstream (or account on it) is no longer configured, by the upstream name the lease records. Their tokens may still be valid; the leases stay revoke_failed and are retried until the upstream is configured again or an admin forgets them.",
		}, []string{"upstream"}),
	}
	if err := d.Register(m.revoked, m.lag, m.failures, m.expiredUnrevoked, m.noUpstream, newFailedCollector(d.Store)); err != nil {
		return nil, fmt.Errorf("revoker: register metrics: %w", err)
	}
	return m, nil
}

// reasonLabel folds free-text revoke reasons into two values, so an
// operator's wording cannot grow the label's cardinality.
func reasonLabel(l *lease.Lease) string {
	if l.RevokeReason == lease.ReasonExpired {
		return "expired"
	}
	return "requested"
}
