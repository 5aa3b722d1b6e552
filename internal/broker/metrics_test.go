package broker

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/store/memstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestActiveGaugeHasASeriesPerPurpose(t *testing.T) {
	t.Parallel()
	st := memstore.New()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if _, err := st.CreatePending(t.Context(), store.CreatePendingParams{ID: "01", Purpose: "netops", Owner: "api_key:a",
		Now: now, ExpireTime: now.Add(time.Hour), MaxExpireTime: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Activate(t.Context(), store.ActivateParams{ID: "01", UpstreamTokenID: "k", Now: now}); err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	if _, err := NewMetrics(reg, st, "netops", "idle"); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "ztbroker_leases_active" {
			continue
		}
		for _, m := range mf.GetMetric() {
			got[m.GetLabel()[0].GetValue()] = m.GetGauge().GetValue()
		}
	}
	if diff := cmp.Diff(map[string]float64{"netops": 1, "idle": 0}, got); diff != "" {
		t.Errorf("ztbroker_leases_active (-want +got):\n%s", diff)
	}
}
