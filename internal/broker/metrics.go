package broker

import (
	"context"
	"maps"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/store/leasegauge"
)

// activeGaugeTTL is how long one count of active leases answers scrapes.
const activeGaugeTTL = 2 * time.Second

// Metrics are the service's own instruments. Revocations are counted by
// the revocation worker, which performs every one of them.
type Metrics struct {
	issued *prometheus.CounterVec
	renew  *prometheus.CounterVec
	denied *prometheus.CounterVec
}

// NewMetrics registers the service's instruments on reg, including an
// active-leases gauge read from st at scrape time. Every purpose named
// gets a series, zero when it has no active lease, so dashboards and
// alerts see "none" rather than "no data".
func NewMetrics(reg prometheus.Registerer, st store.Store, purposes ...string) (*Metrics, error) {
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
	countActive := func(ctx context.Context) (map[string]int, error) {
		counts, err := st.CountActive(ctx)
		if err != nil {
			return nil, err
		}
		out := make(map[string]int, len(purposes)+len(counts))
		for _, p := range purposes {
			out[p] = 0
		}
		maps.Copy(out, counts)
		return out, nil
	}
	active := leasegauge.New("ztbroker_leases_active", "Active leases by purpose.", activeGaugeTTL, countActive)
	for _, c := range []prometheus.Collector{m.issued, m.renew, m.denied, active} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}
