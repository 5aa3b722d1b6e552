package upstream

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the upstream clients' Prometheus collectors. Label values are
// the upstream's configured name, a fixed operation name and a status code,
// so no token, key id or credential can reach them.
type Metrics struct {
	duration  *prometheus.HistogramVec
	throttled *prometheus.CounterVec
	skew      *prometheus.GaugeVec
}

// NewMetrics registers the collectors on reg. Calling it again with the same
// registerer returns collectors backed by the ones already registered, so
// every client may call it for itself.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "ztbroker_upstream_request_duration_seconds",
		Help:    "Duration of HTTP requests to ZeroTier Central, until response headers.",
		Buckets: prometheus.DefBuckets,
	}, []string{"upstream", "operation", "status"})
	throttled := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ztbroker_upstream_throttled_total",
		Help: "HTTP 429 responses received from ZeroTier Central.",
	}, []string{"upstream"})
	skew := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "ztbroker_upstream_clock_skew_seconds",
		Help: "How far ZeroTier Central's clock is ahead of the broker's (negative: behind), from the Date header of recent responses. Beyond one second, key expiries are sent on Central's clock.",
	}, []string{"upstream"})
	var err error
	if duration, err = register(reg, duration); err != nil {
		return nil, err
	}
	if throttled, err = register(reg, throttled); err != nil {
		return nil, err
	}
	if skew, err = register(reg, skew); err != nil {
		return nil, err
	}
	return &Metrics{duration: duration, throttled: throttled, skew: skew}, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}
