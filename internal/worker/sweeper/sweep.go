package sweeper

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/upstream"
)

// storeWriteTimeout bounds a store write that records what was already
// done upstream; it runs detached from cancellation so a stop between the
// delete and the write does not lose the record.
const storeWriteTimeout = 10 * time.Second

// Audit vocabulary of this package.
const (
	actorKind    = "system"
	actorSubject = "sweeper"
	actionSweep  = "sweep_pending"
)

// PassResult is what one pass did.
type PassResult struct {
	// Claimed is how many stale pending leases the pass claimed.
	Claimed int
	// Swept leases were marked failed after their tokens were deleted.
	Swept int
	// TokensDeleted counts upstream tokens deleted.
	TokensDeleted int
	// Deferred leases stay pending because the upstream failed; a later
	// pass retries them once their claim runs out.
	Deferred int
	// Activated leases turned out to have finished minting; they were
	// moved to revoking.
	Activated int
	// Err is the first error of the pass.
	Err error
}

// issuerKey is an account on a named upstream, as leases record it.
type issuerKey struct{ upstream, account string }

// RunOnce claims one batch of stale pending leases and sweeps them.
func (s *Sweeper) RunOnce(ctx context.Context) (res PassResult, err error) {
	ctx, span := s.tracer.Start(ctx, "sweeper.pass")
	defer func() {
		// A recovered panic has set res.Err alone.
		err = res.Err
		span.SetAttributes(attribute.Int("claimed", res.Claimed), attribute.Int("swept", res.Swept),
			attribute.Int("tokens_deleted", res.TokensDeleted), attribute.Int("deferred", res.Deferred))
		result := "ok"
		if res.Err != nil {
			result = "error"
			span.RecordError(res.Err)
			span.SetStatus(codes.Error, "sweep failed")
		}
		s.metrics.runs.WithLabelValues(result).Inc()
		span.End()
	}()
	defer s.cfg.Panics.Recover(ctx, workerName, &res.Err)

	ctx, cancel := context.WithTimeout(ctx, s.cfg.PassTimeout)
	defer cancel()
	now := s.cfg.Now()
	claimed, err := s.cfg.Store.ClaimStalePending(ctx, store.ClaimStalePendingParams{
		CreatedBefore: now.Add(-s.cfg.PendingTimeout), Now: now,
		ClaimUntil: now.Add(s.cfg.ClaimTimeout), Limit: s.cfg.BatchSize,
	})
	if err != nil {
		res.Err = fmt.Errorf("claim stale pending leases: %w", err)
		s.log.WarnContext(ctx, "cannot claim stale pending leases", slog.Any("error", err))
		return res, res.Err
	}
	res.Claimed = len(claimed)

	// One listing per account serves every lease of the batch on it.
	groups := map[issuerKey][]*lease.Lease{}
	var order []issuerKey
	for _, l := range claimed {
		if l.IsProxy() {
			// An interrupted proxy issue minted nothing upstream; its
			// credential was never handed out, or is refused from now on.
			s.fail(ctx, l, &res)
			continue
		}
		k := issuerKey{l.Upstream, l.UpstreamAccount}
		if _, seen := groups[k]; !seen {
			order = append(order, k)
		}
		groups[k] = append(groups[k], l)
	}
	for _, k := range order {
		s.sweepAccount(ctx, k, groups[k], &res)
	}
	return res, res.Err
}

func (s *Sweeper) sweepAccount(ctx context.Context, k issuerKey, leases []*lease.Lease, res *PassResult) {
	is, ok := s.cfg.Registry.Issuer(k.upstream, k.account)
	if !ok {
		// Nothing can be deleted on an account the broker no longer knows.
		// Failing the lease is still right: if the account comes back,
		// reconciliation deletes any token named after a failed lease.
		for _, l := range leases {
			s.log.WarnContext(ctx, "stale pending lease on an unconfigured upstream account; marking it failed",
				leaseAttrs(l)...)
			s.fail(ctx, l, res)
		}
		return
	}
	tokens, err := is.List(upstream.WithOperation(ctx, "list"))
	if err != nil {
		s.postpone(ctx, leases, fmt.Errorf("list upstream %s account %q: %w", k.upstream, k.account, err), res)
		return
	}
	for _, l := range leases {
		if err := s.deleteNamed(ctx, is, l, tokens, res); err != nil {
			s.postpone(ctx, []*lease.Lease{l}, err, res)
			continue
		}
		s.fail(ctx, l, res)
	}
}

// deleteNamed deletes every token named after l: a retried mint can have
// made more than one.
func (s *Sweeper) deleteNamed(ctx context.Context, is upstream.Issuer, l *lease.Lease, tokens []upstream.Token, res *PassResult) error {
	if l.UpstreamName == "" {
		return nil
	}
	for _, t := range tokens {
		// Exactly the lease's own name, and never the admin credential.
		if t.Name != l.UpstreamName || t.Protected {
			continue
		}
		if err := is.Delete(upstream.WithPriority(ctx, upstream.PriorityRevoke), t.ID); err != nil {
			return fmt.Errorf("delete token of lease %s: %w", l.ID, err)
		}
		res.TokensDeleted++
		s.metrics.deleted.WithLabelValues(l.Upstream).Inc()
		s.log.InfoContext(ctx, "deleted the token of an interrupted mint", leaseAttrs(l)...)
	}
	return nil
}

func (s *Sweeper) postpone(ctx context.Context, leases []*lease.Lease, err error, res *PassResult) {
	res.Deferred += len(leases)
	if res.Err == nil {
		res.Err = err
	}
	for _, l := range leases {
		s.log.WarnContext(ctx, "cannot clean up an interrupted mint yet; will retry",
			append(leaseAttrs(l), slog.Any("error", err))...)
	}
}

func (s *Sweeper) fail(ctx context.Context, l *lease.Lease, res *PassResult) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeWriteTimeout)
	defer cancel()
	now := s.cfg.Now()
	_, err := s.cfg.Store.FailPending(ctx, store.FailPendingParams{
		ID: l.ID, Reason: lease.ReasonCrashed, Now: now,
		Audit: &store.AuditEvent{
			Time: now, Action: actionSweep, ActorKind: actorKind, ActorSubject: actorSubject,
			Purpose: l.Purpose, LeaseID: l.ID, Result: "failed", Reason: lease.ReasonCrashed,
		},
	})
	switch {
	case err == nil:
		res.Swept++
		s.metrics.swept.WithLabelValues(l.Purpose).Inc()
		s.log.InfoContext(ctx, "interrupted mint swept", leaseAttrs(l)...)
	case errors.Is(err, errs.Conflict):
		s.endActivated(ctx, l, now, res)
	default:
		if res.Err == nil {
			res.Err = fmt.Errorf("fail pending lease %s: %w", l.ID, err)
		}
		s.log.WarnContext(ctx, "cannot mark an interrupted mint failed; will retry",
			append(leaseAttrs(l), slog.Any("error", err))...)
	}
}

// endActivated handles the race the package documentation describes: the
// mint finished after all, and its token may be gone. The lease is handed
// to the revocation worker so that it ends instead of pretending to work.
func (s *Sweeper) endActivated(ctx context.Context, l *lease.Lease, now time.Time, res *PassResult) {
	_, already, err := s.cfg.Store.BeginRevoke(ctx, store.BeginRevokeParams{
		ID: l.ID, Reason: lease.ReasonCrashed, RevokedBy: actorKind + ":" + actorSubject,
		Now: now, ClaimUntil: now,
		Audit: &store.AuditEvent{
			Time: now, Action: "revoke", ActorKind: actorKind, ActorSubject: actorSubject,
			Purpose: l.Purpose, LeaseID: l.ID, Result: "ok", Reason: lease.ReasonCrashed,
		},
	})
	if err != nil {
		if res.Err == nil {
			res.Err = fmt.Errorf("revoke late-activated lease %s: %w", l.ID, err)
		}
		s.log.ErrorContext(ctx, "a swept mint activated late and could not be revoked",
			append(leaseAttrs(l), slog.Any("error", err))...)
		return
	}
	if !already {
		res.Activated++
		s.log.WarnContext(ctx, "a swept mint activated late; lease handed to the revocation worker", leaseAttrs(l)...)
	}
}

// leaseAttrs identifies a lease in logs by ids only.
func leaseAttrs(l *lease.Lease) []any {
	return []any{
		slog.String("lease_id", l.ID), slog.String("purpose", l.Purpose),
		slog.String("upstream", l.Upstream), slog.String("upstream_account", l.UpstreamAccount),
	}
}
