package retention

import (
	"context"
	"fmt"
	"log/slog"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/ztbroker/ztbroker/internal/store"
)

// MaintainAudit runs one audit partition pass: months ahead made, stray
// events moved, months past retention dropped. Busy in the result means
// another replica was at it and nothing was done.
func (w *Worker) MaintainAudit(ctx context.Context) (res *store.AuditMaintenance, err error) {
	ctx, span := w.tracer.Start(ctx, "retention.audit")
	defer func() {
		result := "ok"
		switch {
		case err != nil:
			result = "error"
			span.RecordError(err)
			span.SetStatus(codes.Error, "audit retention failed")
		case res.Busy:
			result = "busy"
		}
		if res != nil {
			span.SetAttributes(attribute.Bool("busy", res.Busy), attribute.Int("created", len(res.Created)),
				attribute.Int("dropped", len(res.Dropped)), attribute.Int64("moved", res.Moved))
		}
		w.metrics.runs.WithLabelValues("audit", result).Inc()
		span.End()
	}()
	defer w.cfg.Panics.Recover(ctx, workerName, &err)

	ctx, cancel := context.WithTimeout(ctx, w.cfg.BatchTimeout)
	defer cancel()
	now := w.cfg.Now()
	res, err = w.cfg.Store.MaintainAuditPartitions(ctx, store.MaintainAuditParams{
		Now: now, Ahead: w.cfg.AuditMonthsAhead, KeepSince: now.Add(-w.cfg.AuditRetention),
	})
	if err != nil {
		if ctx.Err() == nil {
			w.log.WarnContext(ctx, "cannot maintain audit partitions; will retry", slog.Any("error", err))
		}
		return nil, fmt.Errorf("maintain audit partitions: %w", err)
	}
	for _, p := range res.Created {
		w.metrics.partitionsCreated.Inc()
		w.log.InfoContext(ctx, "audit partition created", partAttrs(p)...)
	}
	if res.Moved > 0 {
		w.log.WarnContext(ctx, "audit events had no monthly partition and were moved into one",
			slog.Int64("events", res.Moved))
	}
	for _, p := range res.Dropped {
		w.metrics.partitionsDropped.Inc()
		w.metrics.auditEventsDropped.Add(float64(p.Rows))
		w.log.InfoContext(ctx, "audit partition dropped after its retention", append(partAttrs(p), slog.Int64("events", p.Rows))...)
	}
	return res, nil
}

func partAttrs(p store.AuditPartition) []any {
	return []any{slog.String("partition", p.Name), slog.Time("from", p.From), slog.Time("to", p.To)}
}
