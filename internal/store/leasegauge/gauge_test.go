package leasegauge_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/ztbroker/ztbroker/internal/store/leasegauge"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// gather returns the gauge's values by purpose as one scrape sees them.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	return got
}

func TestCollector(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		ttl     time.Duration
		answers []error // one per count; nil answers {"deploy": calls}
		want    []map[string]float64
		calls   int
	}{
		// An hour-long ttl means the second scrape must reuse the first count.
		{"CachedWithinTTL", time.Hour, []error{nil}, []map[string]float64{{"deploy": 1}, {"deploy": 1}}, 1},
		// A negative ttl has always expired, so every scrape counts afresh.
		{"RecountedAfterTTL", -1, []error{nil, nil}, []map[string]float64{{"deploy": 1}, {"deploy": 2}}, 2},
		{"FailedCountIsAbsent", -1, []error{nil, errors.New("down")}, []map[string]float64{{"deploy": 1}, {}}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			calls := 0
			c := leasegauge.New("test_leases", "Test leases.", tt.ttl, func(context.Context) (map[string]int, error) {
				calls++
				if err := tt.answers[calls-1]; err != nil {
					return nil, err
				}
				return map[string]int{"deploy": calls}, nil
			})
			reg := prometheus.NewRegistry()
			reg.MustRegister(c)
			var got []map[string]float64
			for range tt.want {
				got = append(got, gather(t, reg))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("scrapes (-want +got):\n%s", diff)
			}
			if calls != tt.calls {
				t.Errorf("count called %d times, want %d", calls, tt.calls)
			}
		})
	}
}
