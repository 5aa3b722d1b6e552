package server

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"go.opentelemetry.io/otel/trace"

	"github.com/ztbroker/ztbroker/internal/broker"
	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/panics"
	"github.com/ztbroker/ztbroker/internal/refusal"
	"github.com/ztbroker/ztbroker/internal/seal"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/worker"
	"github.com/ztbroker/ztbroker/internal/worker/adminkey"
	"github.com/ztbroker/ztbroker/internal/worker/reconcile"
	"github.com/ztbroker/ztbroker/internal/worker/retention"
	"github.com/ztbroker/ztbroker/internal/worker/revoker"
	"github.com/ztbroker/ztbroker/internal/worker/secreteraser"
	"github.com/ztbroker/ztbroker/internal/worker/sweeper"
)

func (s *Server) buildWorkers(f *config.Config, ps *broker.Purposes, us *upstreams, sealer *seal.Sealer, now func() time.Time, tp trace.TracerProvider) (err error) {
	w := f.Workers
	deps := worker.Deps{
		Store:          s.store,
		Registry:       ps.Registry(),
		Logger:         s.log,
		Panics:         s.panics,
		Registerer:     s.registry,
		TracerProvider: tp,
		Now:            now,
	}
	s.revoker, err = revoker.New(revoker.Config{
		Deps:              deps,
		BatchSize:         w.RevokeBatchSize,
		ClaimTimeout:      w.ClaimTimeout,
		MaxAttempts:       w.RevokeMaxAttempts,
		BackoffBase:       w.RevokeBackoffBase,
		BackoffMax:        w.RevokeBackoffMax,
		RevokeFailedRetry: w.RevokeFailedRetryInterval,
	})
	if err != nil {
		return err
	}
	s.sweeper, err = sweeper.New(sweeper.Config{
		Deps:           deps,
		PendingTimeout: w.PendingTimeout,
		// Passing at half the timeout bounds how long an interrupted mint
		// stays pending to 1.5x pending_timeout, whatever it is set to.
		Interval:     w.PendingTimeout / 2,
		ClaimTimeout: w.ClaimTimeout,
	})
	if err != nil {
		return err
	}
	s.reconcil, err = reconcile.New(reconcile.Config{
		Deps:           deps,
		Prefix:         f.Tokens.NamePrefix,
		PendingTimeout: w.PendingTimeout,
		Interval:       w.ReconcileInterval,
		Guards:         us.guards(),
	})
	if err != nil {
		return err
	}
	kcfg := adminkey.Config{Deps: deps, Upstreams: us.keeperUpstreams(), Prefix: f.Tokens.NamePrefix}
	if sealer != nil {
		kcfg.Sealer = sealer
	}
	if s.keeper, err = adminkey.New(kcfg); err != nil {
		return err
	}
	s.eraser, err = secreteraser.New(secreteraser.Config{Store: s.store, Logger: s.log, Panics: s.panics, Now: now})
	if err != nil {
		return err
	}
	r := f.Retention
	s.retention, err = retention.New(retention.Config{
		Deps:           deps,
		LeaseRetention: r.Leases,
		AuditRetention: r.Audit,
		Interval:       r.Interval,
		BatchSize:      r.BatchSize,
	})
	return err
}

func (s *Server) startWorkers(ctx context.Context) error {
	services := s.services()
	for i, w := range services {
		if err := w.Start(ctx); err != nil {
			for j := i - 1; j >= 0; j-- {
				services[j].Stop()
			}
			return err
		}
	}
	s.proxy.Start(ctx)
	return nil
}

// service is a worker the server starts and stops.
type service interface {
	Start(context.Context) error
	Stop()
}

// services are the workers in start order; they stop in reverse, so the
// refusal limiter's last flush, which writes the summaries counted while
// the listeners drained, runs before the workers it audits through go,
// and the admin key keeper, which every upstream call needs, goes last.
func (s *Server) services() []service {
	return []service{s.keeper, s.revoker, s.sweeper, s.reconcil, s.eraser, s.refusals, s.retention}
}

// stopWorkers runs after the listeners have drained, so an explicit
// revoke that was in flight has finished before the revoker goes.
func (s *Server) stopWorkers() {
	// The proxy's queued audit events are written before anything else
	// stops: the calls they record have happened.
	s.proxy.Stop()
	services := s.services()
	for i := len(services) - 1; i >= 0; i-- {
		services[i].Stop()
	}
}

// buildRefusals bounds what refused callers cost: they are turned away
// once refused too often, and their audit events are summarised past a
// per-owner rate.
func buildRefusals(f *config.Config, st store.Store, log *slog.Logger, p *panics.Policy, reg prometheus.Registerer, now func() time.Time) (*refusal.Limiter, error) {
	rate := func(r *config.RateLimit) refusal.Rate { return refusal.Rate{PerSecond: r.PerSecond, Burst: r.Burst} }
	return refusal.New(refusal.Config{
		PerOwner:   rate(f.Refusals.PerOwner),
		PerAddress: rate(f.Refusals.PerAddress),
		Events:     rate(f.Audit.RefusalEvents),
		Interval:   f.Audit.SummaryInterval,
		Store:      st,
		Logger:     log,
		Panics:     p,
		Registerer: reg,
		Now:        now,
	})
}
