package revoker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/upstream"
)

// storeWriteTimeout bounds the store write that records an upstream
// outcome. The write runs detached from the caller's cancellation: a
// deleted token must be recorded as deleted even while the worker stops.
const storeWriteTimeout = 10 * time.Second

// Audit vocabulary of this package.
const (
	actorKind              = "system"
	actorSubject           = "revoker"
	actionRevoke           = "revoke_complete"
	actionExpireRevoke     = "expire_revoke"
	actionRevokeFailed     = "revoke_failed"
	actionExpiredUnrevoked = "expired_without_revoke"
)

// outcome is what one revocation attempt came to.
type outcome int

const (
	outcomeRevoked outcome = iota
	outcomeRetrying
	outcomeFailed
	// outcomeAborted means the worker is stopping: nothing was recorded,
	// and the claim's expiry hands the lease to the next worker.
	outcomeAborted
	// outcomeStoreError means the store could not record the outcome.
	outcomeStoreError
	// outcomePanicked means the attempt panicked. What it did is unknown;
	// the lease stays claimed, and the claim's expiry hands it to a later
	// pass.
	outcomePanicked
)

// RevokeNow deletes the upstream token of l, which the caller has already
// moved to revoking with store.BeginRevoke, and marks it revoked. On
// failure it records the attempt, schedules the retry for the worker, and
// returns an error wrapping errs.Unavailable: the lease stays ending
// and the worker finishes it. The lease it returns is the row as the
// store last wrote it (revoked, or carrying the failure), or nil when this
// call wrote nothing, so callers need not read it back.
func (w *Worker) RevokeNow(ctx context.Context, l *lease.Lease) (*lease.Lease, error) {
	out, cur, err := w.revoke(ctx, l, nil)
	switch out {
	case outcomeRevoked:
		return cur, nil
	case outcomeStoreError:
		return nil, fmt.Errorf("revoke lease %s: %w", l.ID, err)
	default:
		return cur, fmt.Errorf("revoke lease %s: %w: %w", l.ID, errs.Unavailable, err)
	}
}

// RevokeActive is the explicit revoke's fast path for l, which was
// active when the caller read it: it deletes the token upstream and, once
// that has succeeded, records the lease revoked in one write that carries
// the caller's audit event (p.Audit) and this package's completion event.
// It fills p.DoneAt and p.Completion itself.
//
// It returns an error when it recorded nothing: the issuer is unknown,
// the delete failed, or the lease moved on meanwhile (errs.Conflict: a
// worker claimed it at expiry, an operator revoked it in bulk, another
// request ended it). The caller then takes the durable path, BeginRevoke
// and RevokeNow, which records a failure and hands it to the worker. A
// crash between the delete and the write leaves an active lease whose
// token is already gone; the worker finishes it at expiry like any other.
func (w *Worker) RevokeActive(ctx context.Context, l *lease.Lease, p store.RevokeActiveParams) (*lease.Lease, error) {
	if err := w.deleteActive(ctx, l); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeWriteTimeout)
	defer cancel()
	p.ID = l.ID
	p.DoneAt = w.cfg.Now()
	p.Completion = w.audit(l, p.DoneAt, actionRevoke, "ok", p.Reason)
	cur, err := w.cfg.Store.RevokeActive(ctx, p)
	if err != nil {
		return nil, fmt.Errorf("revoke lease %s: record: %w", l.ID, err)
	}
	w.metrics.revoked.WithLabelValues(l.Purpose, l.Upstream, reasonLabel(cur), resultOK).Inc()
	w.log.DebugContext(ctx, "lease revoked", leaseAttrs(cur)...)
	return cur, nil
}

// deleteActive is RevokeActive's upstream step. A proxy lease has
// nothing upstream: its credential is the broker's own and stops working
// when the lease leaves active.
func (w *Worker) deleteActive(ctx context.Context, l *lease.Lease) error {
	if l.IsProxy() {
		return nil
	}
	is, ok := w.cfg.Registry.Issuer(l.Upstream, l.UpstreamAccount)
	if !ok {
		w.unconfigured(ctx, l)
		return fmt.Errorf("revoke lease %s: %w: upstream %s account %q", l.ID, errNoIssuer, l.Upstream, l.UpstreamAccount)
	}
	if l.UpstreamTokenID == "" {
		w.log.WarnContext(ctx, "revoking a lease with no upstream token id", leaseAttrs(l)...)
		return nil
	}
	if err := is.Delete(upstream.WithPriority(ctx, upstream.PriorityRevoke), l.UpstreamTokenID); err != nil {
		return fmt.Errorf("revoke lease %s: %w", l.ID, err)
	}
	return nil
}

// revoke makes one attempt on l. When the worker's own context (life,
// nil for RevokeNow) has ended, a failed delete is not an attempt that
// failed but a shutdown, and is left for the claim to expire. A pass that
// merely ran out of time records the failure like any other.
func (w *Worker) revoke(ctx context.Context, l *lease.Lease, life context.Context) (outcome, *lease.Lease, error) {
	if l.IsProxy() {
		// A proxy lease has nothing upstream: its credential is the
		// broker's own and stopped working when the lease left active.
		w.log.DebugContext(ctx, "proxy lease: no upstream token to delete", leaseAttrs(l)...)
		return w.complete(ctx, l)
	}
	is, ok := w.cfg.Registry.Issuer(l.Upstream, l.UpstreamAccount)
	if !ok {
		w.unconfigured(ctx, l)
		err := fmt.Errorf("%w: upstream %s account %q", errNoIssuer, l.Upstream, l.UpstreamAccount)
		return w.recordFailure(ctx, l, err)
	}
	if l.UpstreamTokenID != "" {
		err := is.Delete(upstream.WithPriority(ctx, upstream.PriorityRevoke), l.UpstreamTokenID)
		if err != nil {
			if life != nil && life.Err() != nil {
				return outcomeAborted, nil, life.Err()
			}
			return w.recordFailure(ctx, l, err)
		}
	} else {
		// Only an active lease can be revoked, and activation records the
		// token id; reconciliation catches a token this could miss.
		w.log.WarnContext(ctx, "revoking a lease with no upstream token id", leaseAttrs(l)...)
	}
	return w.complete(ctx, l)
}

func (w *Worker) complete(ctx context.Context, l *lease.Lease) (outcome, *lease.Lease, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeWriteTimeout)
	defer cancel()
	now := w.cfg.Now()
	action := actionRevoke
	if l.RevokeReason == lease.ReasonExpired {
		action = actionExpireRevoke
	}
	cur, err := w.cfg.Store.CompleteRevoke(ctx, store.CompleteRevokeParams{
		ID: l.ID, Now: now, Audit: w.audit(l, now, action, "ok", l.RevokeReason),
	})
	if errors.Is(err, errs.Conflict) {
		// Someone else (an expired claim's next owner, an operator's
		// forget) ended it first; the token is gone either way.
		w.log.DebugContext(ctx, "lease already ended", leaseAttrs(l)...)
		return outcomeRevoked, nil, nil
	}
	if err != nil {
		w.log.ErrorContext(ctx, "token deleted upstream but lease not marked revoked; it will be retried",
			append(leaseAttrs(l), slog.Any("error", err))...)
		return outcomeStoreError, nil, fmt.Errorf("complete revoke: %w", err)
	}
	w.metrics.revoked.WithLabelValues(l.Purpose, l.Upstream, reasonLabel(l), resultOK).Inc()
	if l.RevokeReason == lease.ReasonExpired {
		w.metrics.lag.Observe(max(now.Sub(l.ExpireTime), 0).Seconds())
	}
	w.log.DebugContext(ctx, "lease revoked", leaseAttrs(l)...)
	return outcomeRevoked, cur, nil
}

func (w *Worker) recordFailure(ctx context.Context, l *lease.Lease, cause error) (outcome, *lease.Lease, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeWriteTimeout)
	defer cancel()
	now := w.cfg.Now()
	plan := w.cfg.plan(now, l, cause)
	text := failureText(cause)
	p := store.RecordRevokeFailureParams{
		ID: l.ID, Err: text, NextAttemptAt: plan.next, MarkFailed: plan.markFailed, Now: now,
	}
	newlyFailed := plan.markFailed && l.State != lease.StateRevokeFailed
	if newlyFailed {
		p.Audit = w.audit(l, now, actionRevokeFailed, "error", text)
	}
	w.metrics.failures.WithLabelValues(l.Purpose, l.Upstream).Inc()
	attrs := append(leaseAttrs(l),
		slog.Int("attempt", l.RevokeAttempts+1), slog.String("error", text), slog.Time("next_attempt", plan.next))
	cur, err := w.cfg.Store.RecordRevokeFailure(ctx, p)
	if err != nil {
		w.log.ErrorContext(ctx, "upstream delete failed and the failure could not be recorded",
			append(attrs, slog.Any("store_error", err))...)
		return outcomeStoreError, nil, fmt.Errorf("record revoke failure: %w", err)
	}
	// Wake for the retry even if it comes before anything the loop knows.
	w.alarm.nudge(plan.next)
	if !plan.markFailed {
		w.log.WarnContext(ctx, "upstream delete failed; will retry", attrs...)
		return outcomeRetrying, cur, cause
	}
	if newlyFailed {
		w.metrics.revoked.WithLabelValues(l.Purpose, l.Upstream, reasonLabel(l), resultRevokeFailed).Inc()
		w.log.ErrorContext(ctx, "lease is revoke_failed: its token may still be valid upstream", attrs...)
	} else {
		w.log.WarnContext(ctx, "slow retry of a revoke_failed lease failed", attrs...)
	}
	return outcomeFailed, cur, cause
}

func (w *Worker) audit(l *lease.Lease, now time.Time, action, result, reason string) *store.AuditEvent {
	return &store.AuditEvent{
		Time: now, Action: action, ActorKind: actorKind, ActorSubject: actorSubject,
		Purpose: l.Purpose, LeaseID: l.ID, Result: result, Reason: reason, TokenSHA256: l.TokenSHA256,
	}
}

// leaseAttrs identifies a lease in logs by ids only, never by its token.
// unconfigured raises the alarm for a lease whose upstream, or account on
// it, the configuration no longer has. The lease is never called revoked:
// its token may still work upstream. It stays revoke_failed and is
// retried until the upstream is configured again (under the name the
// lease records) or an admin forgets it after dealing with the token.
// Refusing to start instead would take every other organisation down
// with it and leave no running broker to forget the leases through.
func (w *Worker) unconfigured(ctx context.Context, l *lease.Lease) {
	w.metrics.noUpstream.WithLabelValues(l.Upstream).Inc()
	w.log.ErrorContext(ctx, "lease's upstream is not configured: its token cannot be revoked; configure the upstream under this name again, or forget the lease once its token is dealt with",
		leaseAttrs(l)...)
}

func leaseAttrs(l *lease.Lease) []any {
	return []any{
		slog.String("lease_id", l.ID), slog.String("purpose", l.Purpose),
		slog.String("upstream", l.Upstream), slog.String("upstream_account", l.UpstreamAccount),
		slog.String("revoke_reason", l.RevokeReason),
	}
}
