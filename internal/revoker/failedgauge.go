package revoker

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

const (
	// failedGaugeTTL keeps a burst of scrapes from becoming a burst of
	// queries.
	failedGaugeTTL = 10 * time.Second
	// failedGaugePage and failedGaugeMaxPages bound one count. Thousands of
	// revoke_failed leases is an outage whose exact size matters less than
	// the scrape finishing.
	failedGaugePage     = 500
	failedGaugeMaxPages = 20
)

// failedCollector reports revoke_failed leases per purpose, counted in the
// store so that every replica reports the same number.
type failedCollector struct {
	st   store.Store
	desc *prometheus.Desc

	mu      sync.Mutex
	at      time.Time
	counts  map[string]int
	healthy bool
}

func newFailedCollector(st store.Store) *failedCollector {
	return &failedCollector{
		st: st,
		desc: prometheus.NewDesc("ztbroker_leases_revoke_failed",
			"Leases in state revoke_failed, by purpose: tokens the broker could not delete and still retries.",
			[]string{"purpose"}, nil),
	}
}

func (c *failedCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c *failedCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.at.IsZero() || time.Since(c.at) > failedGaugeTTL {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
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

func (c *failedCollector) count(ctx context.Context) (map[string]int, error) {
	counts := map[string]int{}
	after := ""
	for range failedGaugeMaxPages {
		res, err := c.st.ListLeases(ctx, store.ListLeasesParams{
			State: lease.StateRevokeFailed, PageSize: failedGaugePage, After: after,
		})
		if err != nil {
			return nil, err
		}
		for _, l := range res.Leases {
			counts[l.Purpose]++
		}
		if res.Next == "" {
			break
		}
		after = res.Next
	}
	return counts, nil
}
