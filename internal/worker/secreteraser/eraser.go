package secreteraser

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/ztbroker/ztbroker/internal/panics"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/worker/startstop"
)

// DefaultInterval is how often a pass runs when Config.Interval is zero.
const DefaultInterval = 30 * time.Second

// workerName labels the worker's panics.
const workerName = "secreteraser"

// Config configures an Eraser. Store, Logger and Panics are required.
type Config struct {
	Store  store.Store
	Logger *slog.Logger
	// Panics handles a pass that panics: it fails, and the next runs on
	// schedule.
	Panics   *panics.Policy
	Now      func() time.Time
	Interval time.Duration
	// OnPass, when set, is called after every pass; it must not block.
	OnPass func(erased int, err error)
}

// Eraser is a start/stop service running erase passes.
type Eraser struct {
	cfg    Config
	runner startstop.Runner
}

// New checks cfg and returns an Eraser.
func New(cfg Config) (*Eraser, error) {
	if cfg.Store == nil || cfg.Logger == nil || cfg.Panics == nil {
		return nil, errors.New("secreteraser: Store, Logger and Panics are required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Interval <= 0 {
		cfg.Interval = DefaultInterval
	}
	return &Eraser{cfg: cfg}, nil
}

// Start launches the loop; it errors if the loop is already running.
func (e *Eraser) Start(ctx context.Context) error {
	if !e.runner.Start(ctx, e.loop) {
		return errors.New("secreteraser: already started")
	}
	return nil
}

// Stop ends the loop and waits for it. It is idempotent.
func (e *Eraser) Stop() { e.runner.Stop() }

// RunOnce erases what is due now.
func (e *Eraser) RunOnce(ctx context.Context) (n int, err error) {
	defer e.cfg.Panics.Recover(ctx, workerName, &err)
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Interval)
	defer cancel()
	return e.cfg.Store.EraseSealedSecrets(ctx, e.cfg.Now().UTC())
}

func (e *Eraser) loop(ctx context.Context) {
	t := time.NewTicker(e.cfg.Interval)
	defer t.Stop()
	for {
		n, err := e.RunOnce(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			e.cfg.Logger.WarnContext(ctx, "erasing sealed secrets failed; will retry", "err", err)
		case n > 0:
			e.cfg.Logger.DebugContext(ctx, "sealed secrets erased", "count", n)
		}
		if e.cfg.OnPass != nil {
			e.cfg.OnPass(n, err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
