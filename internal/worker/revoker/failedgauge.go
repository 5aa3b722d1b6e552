package revoker

import (
	"context"
	"time"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/store/leasegauge"
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

// newFailedCollector reports revoke_failed leases per purpose, counted in
// the store so that every replica reports the same number.
func newFailedCollector(st store.Store) *leasegauge.Collector {
	return leasegauge.New("ztbroker_leases_revoke_failed",
		"Leases in state revoke_failed, by purpose: tokens the broker could not delete and still retries.",
		failedGaugeTTL, func(ctx context.Context) (map[string]int, error) { return countFailed(ctx, st) })
}

func countFailed(ctx context.Context, st store.Store) (map[string]int, error) {
	counts := map[string]int{}
	after := ""
	for range failedGaugeMaxPages {
		res, err := st.ListLeases(ctx, store.ListLeasesParams{
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
