package adminkey

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ztbroker/ztbroker/internal/worker"
)

type metrics struct {
	rotations *prometheus.CounterVec
	expiry    *expiryCollector
}

// ExpiryMetric is the gauge alert rules watch (label upstream). A rotation
// keeps the series: which key it is shows in ListUpstreams, not here.
const ExpiryMetric = "ztbroker_upstream_credential_expiry_seconds"

func newMetrics(d *worker.Deps, k *Keeper) (*metrics, error) {
	m := &metrics{
		rotations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_upstream_credential_rotations_total",
			Help: "Admin key rotations by upstream and outcome: switched (the new key is in use), done (the old key deleted), failed.",
		}, []string{"upstream", "result"}),
		expiry: &expiryCollector{k: k, desc: prometheus.NewDesc("ztbroker_upstream_credential_expiry_seconds",
			"Seconds until the upstream's admin credential expires (negative once expired). Absent for credentials without an expiry (Legacy).",
			[]string{"upstream"}, nil)},
	}
	if err := d.Register(m.rotations, m.expiry); err != nil {
		return nil, fmt.Errorf("adminkey: register metrics: %w", err)
	}
	return m, nil
}

// expiryCollector computes the remaining lifetime at scrape time, so the
// gauge is never stale between syncs.
type expiryCollector struct {
	k    *Keeper
	desc *prometheus.Desc
}

func (c *expiryCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *expiryCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.k.cfg.Now()
	for _, m := range c.k.ups {
		info := m.u.Credential.Info()
		if info.Expires.IsZero() {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, info.Expires.Sub(now).Seconds(), m.u.Name)
	}
}
