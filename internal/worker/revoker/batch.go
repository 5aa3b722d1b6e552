package revoker

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

// BatchResult is what one pass did, for OnBatch.
type BatchResult struct {
	// Claimed is how many leases the pass claimed.
	Claimed int
	// Revoked leases were deleted upstream and marked revoked.
	Revoked int
	// Retrying leases failed and are scheduled for another attempt.
	Retrying int
	// Failed leases are (still) revoke_failed.
	Failed int
	// Aborted leases were left claimed because the worker stopped.
	Aborted int
	// Err is a store error, or a recovered panic, that ended or spoiled
	// the pass.
	Err error
}

func (w *Worker) pass(life context.Context) (res BatchResult) {
	ctx, span := w.tracer.Start(life, "revoker.pass")
	defer func() {
		span.SetAttributes(
			attribute.Int("claimed", res.Claimed), attribute.Int("revoked", res.Revoked),
			attribute.Int("retrying", res.Retrying), attribute.Int("failed", res.Failed),
		)
		if res.Err != nil {
			span.RecordError(res.Err)
			span.SetStatus(codes.Error, "store error")
		}
		span.End()
	}()
	defer w.cfg.Panics.Recover(ctx, workerName, &res.Err)

	now := w.cfg.Now()
	// The claim has its own bound: BatchTimeout is for the upstream work,
	// and a slow claim must not eat into it (or, on a loaded database,
	// fail every pass before any delete starts). Claim and work together
	// still end before the claim does.
	cctx, ccancel := context.WithTimeout(ctx, min(storeWriteTimeout, w.cfg.ClaimTimeout-w.cfg.BatchTimeout))
	claimed, err := w.cfg.Store.ClaimDue(cctx, store.ClaimDueParams{
		Now: now, ClaimUntil: now.Add(w.cfg.ClaimTimeout), Limit: w.cfg.BatchSize,
	})
	ccancel()
	if err != nil {
		if ctx.Err() == nil {
			w.log.WarnContext(ctx, "cannot claim due leases", slog.Any("error", err))
		}
		return BatchResult{Err: fmt.Errorf("claim due leases: %w", err)}
	}
	res.Claimed = len(claimed)

	ctx, cancel := context.WithTimeout(ctx, w.cfg.BatchTimeout)
	defer cancel()

	var (
		mu  sync.Mutex
		wg  sync.WaitGroup
		sem = make(chan struct{}, w.cfg.Concurrency)
	)
	for _, l := range claimed {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			out, err := w.revokeClaimed(ctx, l, life)
			mu.Lock()
			defer mu.Unlock()
			switch out {
			case outcomeRevoked:
				res.Revoked++
			case outcomeRetrying:
				res.Retrying++
			case outcomeFailed:
				res.Failed++
			case outcomeAborted:
				res.Aborted++
			case outcomeStoreError, outcomePanicked:
				if res.Err == nil {
					res.Err = err
				}
			}
		})
	}
	wg.Wait()
	return res
}

// revokeClaimed is one lease's share of a pass. It runs on a goroutine of
// its own, out of reach of the pass's recovery, where a panic would end
// the process.
func (w *Worker) revokeClaimed(ctx context.Context, l *lease.Lease, life context.Context) (out outcome, err error) {
	defer func() {
		if v := recover(); v != nil {
			out, err = outcomePanicked, w.cfg.Panics.Recovered(ctx, workerName, v, slog.String("lease_id", l.ID))
		}
	}()
	w.noteExpiry(ctx, l)
	out, _, err = w.revoke(ctx, l, life)
	return out, err
}

// noteExpiry records, on the first claim of a lease that expired, that
// nobody revoked it first: a client whose pipeline did not clean up after
// itself. A worker stopping between this and the first recorded attempt
// makes the note twice; the metric and audit are at-least-once.
func (w *Worker) noteExpiry(ctx context.Context, l *lease.Lease) {
	if l.RevokeReason != lease.ReasonExpired || l.RevokeAttempts > 0 || l.State != lease.StateRevoking {
		return
	}
	w.metrics.expiredUnrevoked.WithLabelValues(l.Purpose).Inc()
	now := w.cfg.Now()
	ev := w.audit(l, now, actionExpiredUnrevoked, "ok", lease.ReasonExpired)
	if err := w.cfg.Store.AppendAudit(ctx, ev); err != nil && ctx.Err() == nil {
		w.log.WarnContext(ctx, "cannot audit an unrevoked expiry", append(leaseAttrs(l), slog.Any("error", err))...)
	}
}
