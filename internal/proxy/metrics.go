package proxy

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the proxy's own instruments. Labels are purpose names,
// operation templates, status codes and fixed reasons: never an id, a
// path as sent, or a credential.
type metrics struct {
	calls   *prometheus.CounterVec
	denied  *prometheus.CounterVec
	added   *prometheus.HistogramVec
	dropped prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_proxy_requests_total",
			Help: "Proxied calls by purpose, operation template and status (Central's, or the broker's own refusal).",
		}, []string{"purpose", "route", "status"}),
		denied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_proxy_denied_total",
			Help: "Proxied calls the broker refused, by purpose and reason (scope, hard_deny, non_canonical, unauthenticated, rate_limited, ...).",
		}, []string{"purpose", "reason"}),
		added: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "ztbroker_proxy_added_latency_seconds",
			Help:    "Time the broker adds to a forwarded call: until response headers, minus the upstream's own time to headers.",
			Buckets: []float64{50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3, 10e-3, 25e-3, 50e-3, 100e-3},
		}, []string{"purpose"}),
		dropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ztbroker_proxy_audit_failures_total",
			Help: "Audit events of proxied calls the store could not record.",
		}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.calls, m.denied, m.added, m.dropped} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if errors.As(err, &are) {
				continue
			}
			return nil, err
		}
	}
	return m, nil
}
