package worker_test

import (
	"log/slog"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/ztbroker/ztbroker/internal/panics"
	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/worker"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestValidate(t *testing.T) {
	t.Parallel()
	discard := slog.New(slog.DiscardHandler)
	tests := []struct {
		name string
		deps worker.Deps
		want []string
	}{
		{"Empty", worker.Deps{}, []string{"Store is required", "Registry is required", "Logger is required", "Panics is required"}},
		{"OnlyStoreMissing", worker.Deps{
			Registry: upstream.NewRegistry(), Logger: discard, Panics: panics.New(discard),
		}, []string{"Store is required"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got []string
			for _, err := range tt.deps.Validate() {
				got = append(got, err.Error())
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Validate() (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSetDefaults(t *testing.T) {
	t.Parallel()
	var d worker.Deps
	d.SetDefaults()
	if d.Now == nil || d.Registerer == nil || d.TracerProvider == nil {
		t.Fatalf("SetDefaults left Now, Registerer or TracerProvider nil: %+v", d)
	}
}

func TestRegisterStopsAtDuplicate(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	d := worker.Deps{Registerer: reg}
	opts := prometheus.CounterOpts{Name: "dup_total", Help: "h"}
	first, second := prometheus.NewCounter(opts), prometheus.NewCounter(opts)
	after := prometheus.NewCounter(prometheus.CounterOpts{Name: "after_total", Help: "h"})
	if err := d.Register(first, second, after); err == nil {
		t.Fatal("Register accepted a metric name twice")
	}
	if reg.Unregister(after) {
		t.Fatal("Register went on past the failure")
	}
}
