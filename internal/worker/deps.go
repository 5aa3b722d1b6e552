package worker

import (
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/ztbroker/ztbroker/internal/panics"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/upstream"
)

// Deps is embedded in each worker's Config. Store, Registry, Logger and
// Panics are required.
type Deps struct {
	Store    store.Store
	Registry *upstream.Registry
	Logger   *slog.Logger
	// Panics handles a pass that panics: the worker fails the pass and
	// carries on. Share the server's, so that the doors and the workers
	// count panics in one place.
	Panics *panics.Policy
	// Registerer receives the worker's metrics. Nil keeps them private.
	Registerer prometheus.Registerer
	// TracerProvider makes the span of each pass; pass the server's. Nil
	// traces nothing: a worker never reaches for otel's global.
	TracerProvider trace.TracerProvider
	// Now is the clock for every time the worker writes to the store or
	// compares with lease times. Default time.Now.
	Now func() time.Time
}

// SetDefaults fills Now, Registerer and TracerProvider when they are
// unset.
func (d *Deps) SetDefaults() {
	if d.Now == nil {
		d.Now = time.Now
	}
	if d.Registerer == nil {
		d.Registerer = prometheus.NewRegistry()
	}
	if d.TracerProvider == nil {
		d.TracerProvider = noop.NewTracerProvider()
	}
}

// Validate returns one error per missing required field, for the worker
// to join with its own findings so that a bad config is reported whole.
func (d *Deps) Validate() []error {
	var errs []error
	if d.Store == nil {
		errs = append(errs, errors.New("Store is required"))
	}
	if d.Registry == nil {
		errs = append(errs, errors.New("Registry is required"))
	}
	if d.Logger == nil {
		errs = append(errs, errors.New("Logger is required"))
	}
	if d.Panics == nil {
		errs = append(errs, errors.New("Panics is required"))
	}
	return errs
}

// Register registers every collector on d.Registerer and stops at the
// first failure, which is almost always a metric name registered twice.
func (d *Deps) Register(cs ...prometheus.Collector) error {
	for _, c := range cs {
		if err := d.Registerer.Register(c); err != nil {
			return err
		}
	}
	return nil
}
