package retention

import (
	"context"
	"fmt"
	"log/slog"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/ztbroker/ztbroker/internal/store"
)

// DeleteLeases deletes leases whose retention has passed, batch after
// batch until one comes back short, and returns how many it deleted in
// how many batches. It stops at the first error, or when ctx ends.
func (w *Worker) DeleteLeases(ctx context.Context) (deleted, batches int, err error) {
	for ctx.Err() == nil {
		n, err := w.deleteBatch(ctx)
		if err != nil {
			return deleted, batches, err
		}
		deleted += n
		batches++
		if n < w.cfg.BatchSize {
			break
		}
	}
	return deleted, batches, nil
}

// deleteBatch is one batch, with its own span and time limit.
func (w *Worker) deleteBatch(ctx context.Context) (n int, err error) {
	ctx, span := w.tracer.Start(ctx, "retention.lease_batch")
	defer func() {
		span.SetAttributes(attribute.Int("deleted", n), attribute.Int("limit", w.cfg.BatchSize))
		result := "ok"
		if err != nil {
			result = "error"
			span.RecordError(err)
			span.SetStatus(codes.Error, "lease retention failed")
		}
		w.metrics.runs.WithLabelValues("leases", result).Inc()
		span.End()
	}()
	defer w.cfg.Panics.Recover(ctx, workerName, &err)

	ctx, cancel := context.WithTimeout(ctx, w.cfg.BatchTimeout)
	defer cancel()
	cutoff := w.cfg.Now().Add(-w.cfg.LeaseRetention)
	n, err = w.cfg.Store.DeleteEndedLeases(ctx, store.DeleteEndedLeasesParams{EndedBefore: cutoff, Limit: w.cfg.BatchSize})
	if err != nil {
		if ctx.Err() == nil {
			w.log.WarnContext(ctx, "cannot delete ended leases; will retry", slog.Any("error", err))
		}
		return 0, fmt.Errorf("delete ended leases: %w", err)
	}
	w.metrics.leasesDeleted.Add(float64(n))
	if n > 0 {
		w.log.DebugContext(ctx, "ended leases deleted", slog.Int("count", n), slog.Time("ended_before", cutoff))
	}
	return n, nil
}
