package leasegauge

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// queryTimeout bounds one count, so a slow store delays a scrape by at
// most this much.
const queryTimeout = 2 * time.Second

// Collector is a prometheus.Collector of one gauge labelled by purpose.
type Collector struct {
	desc  *prometheus.Desc
	ttl   time.Duration
	count func(context.Context) (map[string]int, error)

	mu      sync.Mutex
	at      time.Time
	counts  map[string]int
	healthy bool
}

// New returns a collector of the gauge name whose values count returns,
// asked again only once ttl has passed since the last answer.
func New(name, help string, ttl time.Duration, count func(context.Context) (map[string]int, error)) *Collector {
	return &Collector{
		desc:  prometheus.NewDesc(name, help, []string{"purpose"}, nil),
		ttl:   ttl,
		count: count,
	}
}

func (c *Collector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() || time.Since(c.at) > c.ttl {
		ctx, cancel := context.WithTimeout(context.Background(), queryTimeout)
		counts, err := c.count(ctx)
		cancel()
		c.at, c.healthy = time.Now(), err == nil
		if err == nil {
			c.counts = counts
		}
	}
	if !c.healthy {
		// An absent series shows the gap; a stale number would look true.
		return
	}
	for purpose, n := range c.counts {
		ch <- prometheus.MustNewConstMetric(c.desc, prometheus.GaugeValue, float64(n), purpose)
	}
}
