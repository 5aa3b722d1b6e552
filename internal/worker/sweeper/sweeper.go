package sweeper

import (
	"context"
	"log/slog"

	"go.opentelemetry.io/otel/trace"

	"github.com/ztbroker/ztbroker/internal/worker/startstop"
)

// workerName labels the worker's log lines and panics.
const workerName = "sweeper"

// Sweeper is the stale-pending sweeper. Create it with New.
type Sweeper struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	tracer  trace.Tracer
	runner  startstop.Runner
}

// New validates cfg, fills in defaults and registers the metrics.
func New(cfg Config) (*Sweeper, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(&cfg.Deps)
	if err != nil {
		return nil, err
	}
	return &Sweeper{
		cfg:     cfg,
		log:     cfg.Logger.With(slog.String("worker", workerName)),
		metrics: m,
		tracer:  cfg.TracerProvider.Tracer("github.com/ztbroker/ztbroker/internal/worker/sweeper"),
	}, nil
}

// Start launches the loop, which passes once at once and then every
// Interval until ctx ends or Stop is called. Starting a running sweeper
// does nothing.
func (s *Sweeper) Start(ctx context.Context) error {
	s.runner.Start(ctx, s.loop)
	return nil
}

// Stop ends the loop and waits for it. It is safe to call more than once.
func (s *Sweeper) Stop() { s.runner.Stop() }

func (s *Sweeper) loop(ctx context.Context) {
	for {
		res, _ := s.RunOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if s.cfg.OnPass != nil {
			s.cfg.OnPass(res)
		}
		// A full batch means more stale leases are waiting right now.
		if res.Err == nil && res.Claimed >= s.cfg.BatchSize {
			continue
		}
		if !startstop.Sleep(ctx, s.cfg.Interval) {
			return
		}
	}
}
