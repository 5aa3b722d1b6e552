package reconcile

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/worker/startstop"
)

// workerName labels the worker's log lines and panics.
const workerName = "reconcile"

// Reconciler is the periodic reconciliation pass. Create it with New.
type Reconciler struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	tracer  trace.Tracer
	runner  startstop.Runner

	// runMu makes runs exclusive, so the loop and an explicit RunOnce
	// never delete the same orphan twice or race over flagged.
	runMu sync.Mutex
	// flagged holds the leases reported vanished by the previous run, so
	// each is audited once rather than on every run until it expires.
	flagged map[string]bool
	// sighted holds the foreign credentials and service accounts already
	// recorded by this process, so each costs the store one write.
	sighted map[sightingKey]bool
	// listedBefore is each account's previous listing: a credential
	// first seen now appeared since then.
	listedBefore map[string]time.Time
	// disabledLogged holds the upstreams whose unwatched state was logged.
	disabledLogged map[string]bool
}

// New validates cfg, fills in defaults and registers the metrics.
func New(cfg Config) (*Reconciler, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(&cfg.Deps)
	if err != nil {
		return nil, err
	}
	// Counters start at zero, so that an alert on their increase sees the
	// first event (a series born at 1 shows no increase).
	for _, g := range cfg.Guards {
		m.foreignDetected.WithLabelValues(g.Upstream, store.SightingKey)
		if g.ServiceAccounts != nil {
			m.foreignDetected.WithLabelValues(g.Upstream, store.SightingServiceAccount)
		}
		m.foreignDeleted.WithLabelValues(g.Upstream)
	}
	return &Reconciler{
		cfg:     cfg,
		log:     cfg.Logger.With(slog.String("worker", workerName)),
		metrics: m,
		tracer:  cfg.TracerProvider.Tracer("github.com/ztbroker/ztbroker/internal/worker/reconcile"),
		flagged: map[string]bool{},
		sighted: map[sightingKey]bool{}, listedBefore: map[string]time.Time{}, disabledLogged: map[string]bool{},
	}, nil
}

// Start launches the loop, which runs once at once and then every
// Interval until ctx ends or Stop is called. Starting a running
// reconciler does nothing.
func (r *Reconciler) Start(ctx context.Context) error {
	r.runner.Start(ctx, r.loop)
	return nil
}

// Stop ends the loop and waits for it. It is safe to call more than once.
func (r *Reconciler) Stop() { r.runner.Stop() }

func (r *Reconciler) loop(ctx context.Context) {
	for {
		rep, err := r.RunOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if r.cfg.OnRun != nil {
			r.cfg.OnRun(rep, err)
		}
		if !startstop.Sleep(ctx, r.cfg.Interval) {
			return
		}
	}
}
