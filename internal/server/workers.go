package server

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/ztbroker/ztbroker/internal/broker"
	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/worker"
	"github.com/ztbroker/ztbroker/internal/worker/reconcile"
	"github.com/ztbroker/ztbroker/internal/worker/retention"
	"github.com/ztbroker/ztbroker/internal/worker/revoker"
	"github.com/ztbroker/ztbroker/internal/worker/secreteraser"
	"github.com/ztbroker/ztbroker/internal/worker/sweeper"
)

func (s *Server) buildWorkers(f *config.Config, ps *broker.Purposes, now func() time.Time, tp trace.TracerProvider) (err error) {
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
	})
	if err != nil {
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
	if err := s.revoker.Start(ctx); err != nil {
		return err
	}
	if err := s.sweeper.Start(ctx); err != nil {
		s.revoker.Stop()
		return err
	}
	if err := s.reconcil.Start(ctx); err != nil {
		s.sweeper.Stop()
		s.revoker.Stop()
		return err
	}
	if err := s.eraser.Start(ctx); err != nil {
		s.reconcil.Stop()
		s.sweeper.Stop()
		s.revoker.Stop()
		return err
	}
	if err := s.retention.Start(ctx); err != nil {
		s.eraser.Stop()
		s.reconcil.Stop()
		s.sweeper.Stop()
		s.revoker.Stop()
		return err
	}
	s.proxy.Start(ctx)
	return nil
}

// stopWorkers runs after the listeners have drained, so an explicit
// revoke that was in flight has finished before the revoker goes.
func (s *Server) stopWorkers() {
	// The proxy's queued audit events are written before anything else
	// stops: the calls they record have happened.
	s.proxy.Stop()
	s.retention.Stop()
	s.eraser.Stop()
	s.reconcil.Stop()
	s.sweeper.Stop()
	s.revoker.Stop()
}
