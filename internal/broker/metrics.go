package broker

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ztbroker/ztbroker/internal/store"
)

// Metrics are the service's own instruments. Revocations are counted by
// the revocation worker, which performs every one of them.
type Metrics struct {
	issued *prometheus.CounterVec
	renew  *prometheus.CounterVec
	denied *prometheus.CounterVec
}

// NewMetrics registers the service's instruments on reg, including an
// active-leases gauge read from st at scrape time.
func NewMetrics(reg prometheus.Registerer, st store.Store) (*Metrics, error) {
	m := &Metrics{
		issued: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_tokens_issued_total",
			Help: "IssueToken calls by purpose and result.",
		}, []string{"purpose", "result"}),
		renew: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_leases_renewed_total",
			Help: "RenewLease calls by purpose and result.",
		}, []string{"purpose", "result"}),
		denied: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ztbroker_requests_denied_total",
			Help: "Requests refused by policy or quota, by purpose and reason.",
		}, []string{"purpose", "reason"}),
	}
	for _, c := range []prometheus.Collector{m.issued, m.renew, m.denied, newActiveCollector(st)} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// activeCollector reports active leases per purpose from the store, so
// every replica reports the same, correct number. A short cache keeps a
// burst of scrapes from turning into a burst of queries.
type activeCollector struct {
	st   store.Store
	desc *prometheus.Desc

	mu      sync.Mutex
	at      time.Time
	counts  map[string]int
	healthy bool
}

func newActiveCollector(st store.Store) *activeCollector {
	return &activeCollector{
		st: st,
		desc: prometheus.NewDesc("ztbroker_leases_active",
			"Active leases by purpose.", []string{"purpose"}, nil),
	}
}

func (c *activeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *activeCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if time.Since(c.at) > 2*time.Second {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		counts, err := c.st.CountActive(ctx)
		cancel()
		c.at = time.Now()
		c.healthy = err == nil
		if err == nil {
			c.counts = counts
		}
	}
	if !c.healthy {
		// A stale number would look like truth on a dashboard; an
		// absent series shows the gap.
		return
	}
	for purpose, n := range c.counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), purpose)
	}
}
