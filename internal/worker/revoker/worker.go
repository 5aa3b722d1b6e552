package revoker

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/ztbroker/ztbroker/internal/worker/startstop"
)

// busyRetry is how long the loop waits when the store says work is due
// but the pass claimed none of it: another replica holds those rows, and
// its claim will commit in moments.
const busyRetry = 100 * time.Millisecond

// workerName labels the worker's log lines and panics.
const workerName = "revoker"

// Worker is the revocation worker. Create it with New.
type Worker struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	tracer  trace.Tracer
	alarm   *alarm
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
		tracer:  cfg.TracerProvider.Tracer("github.com/ztbroker/ztbroker/internal/worker/revoker"),
		alarm:   newAlarm(),
	}, nil
}

// Start launches the loop, which runs until ctx ends or Stop is called.
// Starting a running worker does nothing.
func (w *Worker) Start(ctx context.Context) error {
	w.runner.Start(ctx, w.loop)
	return nil
}

// Stop ends the loop and waits for it. In-flight upstream deletes are
// cancelled and left claimed; the claim's expiry hands them to whichever
// worker runs next. Stop is safe to call more than once.
func (w *Worker) Stop() { w.runner.Stop() }

// Nudge tells the worker that a lease becomes due at due. It never blocks,
// and wakes the loop only when due is no later than its planned wake-up.
// Leases created on other replicas are found within MaxIdle instead.
func (w *Worker) Nudge(due time.Time) { w.alarm.nudge(due) }

func (w *Worker) loop(ctx context.Context) {
	w.log.DebugContext(ctx, "revocation worker started")
	defer w.log.DebugContext(ctx, "revocation worker stopped")
	storeFailures := 0
	for {
		res := w.pass(ctx)
		if ctx.Err() != nil {
			return
		}
		if w.cfg.OnBatch != nil {
			w.cfg.OnBatch(res)
		}
		if res.Err != nil {
			storeFailures++
			if err := w.alarm.sleep(ctx, w.cfg.Now, w.cfg.Now().Add(w.storeBackoff(storeFailures))); err != nil {
				return
			}
			continue
		}
		storeFailures = 0
		if res.Claimed >= w.cfg.BatchSize {
			continue
		}
		wake, err := w.nextWake(ctx, res)
		if err != nil {
			storeFailures++
			w.log.WarnContext(ctx, "cannot read the next due time", slog.Any("error", err))
			wake = w.cfg.Now().Add(w.storeBackoff(storeFailures))
		}
		if err := w.alarm.sleep(ctx, w.cfg.Now, wake); err != nil {
			return
		}
	}
}

// nextWake is when the next pass should run: the store's next due time,
// at most MaxIdle away.
func (w *Worker) nextWake(ctx context.Context, res BatchResult) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, storeWriteTimeout)
	defer cancel()
	now := w.cfg.Now()
	idle := now.Add(w.cfg.MaxIdle)
	due, ok, err := w.cfg.Store.NextDueTime(ctx)
	switch {
	case err != nil:
		return time.Time{}, fmt.Errorf("next due time: %w", err)
	case !ok:
		return idle, nil
	case !due.After(now) && res.Claimed == 0:
		return now.Add(busyRetry), nil
	case due.Before(idle):
		return due, nil
	default:
		return idle, nil
	}
}

// storeBackoff spaces retries while the store is failing: exponential
// from BackoffBase, jittered, and never longer than MaxIdle, so recovery
// is noticed about as fast as new work would be.
func (w *Worker) storeBackoff(failures int) time.Duration {
	c := min(w.cfg.backoffCap(failures), w.cfg.MaxIdle)
	// Half fixed, half jitter: a down database must not be hammered by an
	// unlucky run of near-zero draws.
	return c/2 + fullJitter(c/2)
}
