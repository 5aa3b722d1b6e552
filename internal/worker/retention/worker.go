package retention

import (
	"context"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/worker/startstop"
)

// workerName labels the worker's log lines and panics.
const workerName = "retention"

// PassResult is what one pass of the loop did.
type PassResult struct {
	// LeasesDeleted counts leases deleted, over Batches batches.
	LeasesDeleted int
	Batches       int
	// Audit is what the audit partition pass did, nil when none was due.
	Audit *store.AuditMaintenance
	// Err is the first error of the pass.
	Err error
}

// Worker is the retention worker. Create it with New.
type Worker struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	tracer  trace.Tracer
	runner  startstop.Runner
}

// New validates cfg, fills in defaults and registers the metrics.
func New(cfg Config) (*Worker, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(&cfg.Deps)
	if err != nil {
		return nil, err
	}
	return &Worker{
		cfg:     cfg,
		log:     cfg.Logger.With(slog.String("worker", workerName)),
		metrics: m,
		tracer:  cfg.TracerProvider.Tracer("github.com/ztbroker/ztbroker/internal/worker/retention"),
	}, nil
}

// Start launches the loop: a pass at once, then one every Interval until
// ctx ends or Stop is called. Starting a running worker does nothing.
func (w *Worker) Start(ctx context.Context) error {
	w.runner.Start(ctx, w.loop)
	return nil
}

// Stop ends the loop and waits for it. It is safe to call more than once.
func (w *Worker) Stop() { w.runner.Stop() }

func (w *Worker) loop(ctx context.Context) {
	// The audit pass is due at once: a replica that starts makes sure the
	// months ahead exist before anything else.
	var auditDue time.Time
	for {
		var res PassResult
		res.LeasesDeleted, res.Batches, res.Err = w.DeleteLeases(ctx)
		if now := w.cfg.Now(); !now.Before(auditDue) {
			audit, err := w.MaintainAudit(ctx)
			res.Audit = audit
			if res.Err == nil {
				res.Err = err
			}
			// A failed or busy pass is retried on the next lease pass
			// rather than an hour later.
			if err == nil && !audit.Busy {
				auditDue = now.Add(w.cfg.AuditInterval)
			}
		}
		if ctx.Err() != nil {
			return
		}
		if w.cfg.OnPass != nil {
			w.cfg.OnPass(res)
		}
		if !startstop.Sleep(ctx, w.cfg.Interval) {
			return
		}
	}
}
