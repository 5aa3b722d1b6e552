package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/upstream"
)

// Report is what one run found and did.
type Report struct {
	// Issuers is how many accounts were reconciled without error.
	Issuers int
	// Tokens counts broker-named tokens seen upstream.
	Tokens int
	// Deleted lists the orphans deleted.
	Deleted []Token
	// InFlight counts tokens left alone because their lease is a mint in
	// flight.
	InFlight int
	// Vanished lists active leases whose token is missing upstream.
	Vanished []string
	// Foreign lists credentials on guarded accounts that the broker did
	// not mint and that are not its admin credential; ForeignDeleted
	// those deleted (foreign_keys: delete).
	Foreign        []Token
	ForeignDeleted []Token
	// NewServiceAccounts lists service accounts that appeared in a
	// watched organisation, reported for the first time.
	NewServiceAccounts []string
}

// Token names one upstream token.
type Token struct {
	Upstream string
	Account  string
	ID       string
	Name     string
}

// RunOnce reconciles every issuer in the registry. An error on one
// account does not stop the others; the returned error joins them all.
func (r *Reconciler) RunOnce(ctx context.Context) (rep Report, err error) {
	r.runMu.Lock()
	defer r.runMu.Unlock()

	ctx, span := r.tracer.Start(ctx, "reconcile.run")
	defer func() {
		span.SetAttributes(attribute.Int("tokens", rep.Tokens), attribute.Int("deleted", len(rep.Deleted)),
			attribute.Int("vanished", len(rep.Vanished)))
		result := "ok"
		if err != nil {
			result = "error"
			span.RecordError(err)
			span.SetStatus(codes.Error, "reconcile failed")
		} else {
			r.metrics.lastSuccess.Set(float64(r.cfg.Now().UnixNano()) / 1e9)
		}
		r.metrics.runs.WithLabelValues(result).Inc()
		span.End()
	}()
	defer r.cfg.Panics.Recover(ctx, workerName, &err)
	ctx, cancel := context.WithTimeout(ctx, r.cfg.RunTimeout)
	defer cancel()

	issuers := r.cfg.Registry.All()
	slices.SortFunc(issuers, func(a, b upstream.Issuer) int {
		return cmp.Or(cmp.Compare(a.Upstream(), b.Upstream()), cmp.Compare(a.Account(), b.Account()))
	})
	var errs []error
	vanished := map[string]bool{}
	foreign := map[string]int{}
	for _, is := range issuers {
		if err := r.reconcile(ctx, is, &rep, vanished, foreign); err != nil {
			errs = append(errs, fmt.Errorf("reconcile upstream %s account %q: %w", is.Upstream(), is.Account(), err))
			continue
		}
		rep.Issuers++
	}
	for i := range r.cfg.Guards {
		g := &r.cfg.Guards[i]
		r.metrics.foreign.WithLabelValues(g.Upstream).Set(float64(foreign[g.Upstream]))
		if g.ServiceAccounts == nil {
			continue
		}
		if err := r.watchOrg(ctx, g, &rep); err != nil {
			errs = append(errs, err)
		}
	}
	// Forget leases no longer vanished (revoked, or back), keep the rest.
	// Accounts that failed this run keep their flags too, so a flaky
	// listing does not re-audit everything on the next good run.
	for id := range r.flagged {
		if !vanished[id] && len(errs) == 0 {
			delete(r.flagged, id)
		}
	}
	for id := range vanished {
		r.flagged[id] = true
	}
	slices.Sort(rep.Vanished)
	return rep, errors.Join(errs...)
}

func (r *Reconciler) reconcile(ctx context.Context, is upstream.Issuer, rep *Report, vanished map[string]bool, foreign map[string]int) error {
	name, account := is.Upstream(), is.Account()
	g, guarded := r.guardFor(name, account)
	if guarded && g.Disabled != nil {
		if why := g.Disabled(); why != "" {
			guarded = false
			if !r.disabledLogged[g.Upstream] {
				r.disabledLogged[g.Upstream] = true
				r.log.WarnContext(ctx, "foreign credentials are not watched on this upstream", slog.String("upstream", g.Upstream),
					slog.String("reason", why))
			}
		}
	}
	// List first, then read the store: see the package documentation.
	listedAt := r.cfg.Now()
	tokens, err := is.List(upstream.WithOperation(ctx, "list"))
	if err != nil {
		return fmt.Errorf("list tokens: %w", err)
	}
	leases, err := r.cfg.Store.ListUpstreamTokens(ctx, store.ListUpstreamTokensParams{Upstream: name, UpstreamAccount: account})
	if err != nil {
		return fmt.Errorf("list leases: %w", err)
	}
	m := newMatcher(leases)
	present := make(map[string]bool, len(tokens))
	var errs []error
	defer func() { r.listedBefore[account] = listedAt }()
	for _, t := range tokens {
		present[t.ID] = true
		if _, _, ours := lease.ParseUpstreamName(r.cfg.Prefix, t.Name); !ours {
			if guarded && r.foreign(ctx, t) {
				foreign[g.Upstream]++
				if err := r.guardToken(ctx, g, is, t, listedAt, rep); err != nil {
					errs = append(errs, err)
				}
			}
			continue
		}
		rep.Tokens++
		l := m.match(t)
		switch r.classify(l, listedAt) {
		case owned:
		case inFlight:
			rep.InFlight++
		case orphan:
			if l == nil && r.endedAfterListing(ctx, is, t.Name, listedAt) {
				// Its revocation ran between our listing and our read
				// of the store and has deleted, or will delete, the token.
				continue
			}
			if err := r.deleteOrphan(ctx, is, t, l, rep); err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, l := range leases {
		if r.hasVanished(l, present, listedAt) {
			vanished[l.ID] = true
			rep.Vanished = append(rep.Vanished, l.ID)
			r.flagVanished(ctx, l)
		}
	}
	return errors.Join(errs...)
}

type verdict int

const (
	owned verdict = iota
	inFlight
	orphan
)

// classify decides what a broker-named token matched to l (nil when no
// lease matched) is.
func (r *Reconciler) classify(l *lease.Lease, listedAt time.Time) verdict {
	switch {
	case l == nil || !l.State.Live():
		return orphan
	case l.State != lease.StatePending:
		return owned
	case l.CreatedAt.After(listedAt.Add(-r.cfg.PendingTimeout)):
		return inFlight
	default:
		// A crashed mint: the sweeper would delete it too.
		return orphan
	}
}

// hasVanished reports whether an active lease's token is missing from a
// listing it should be in. Leases created within PendingTimeout of the
// listing are skipped (their mint may have finished after it), and so are
// leases already due for revocation or past the upstream's own expiry,
// whose tokens are rightly gone or about to be.
func (r *Reconciler) hasVanished(l *lease.Lease, present map[string]bool, listedAt time.Time) bool {
	return l.State == lease.StateActive &&
		l.UpstreamTokenID != "" &&
		!present[l.UpstreamTokenID] &&
		l.CreatedAt.Before(listedAt.Add(-r.cfg.PendingTimeout)) &&
		l.ExpireTime.After(listedAt) &&
		(l.UpstreamExpireTime.IsZero() || l.UpstreamExpireTime.After(listedAt))
}

// endedAfterListing reports whether the lease named in a token's name
// ended after the upstream listing was taken. Such a token was live when
// listed and its lease's own revocation deletes it; deleting it here too
// would only raise a false orphan alarm (seen with two replicas).
func (r *Reconciler) endedAfterListing(ctx context.Context, is upstream.Issuer, name string, listedAt time.Time) bool {
	_, id, ok := lease.ParseUpstreamName(r.cfg.Prefix, name)
	if !ok {
		return false
	}
	l, err := r.cfg.Store.GetLease(ctx, store.GetLeaseParams{ID: id})
	if err != nil {
		return false
	}
	// A lease of another upstream (or account) never deletes this token:
	// its revocation goes where it was minted.
	if l.Upstream != is.Upstream() || l.UpstreamAccount != is.Account() {
		return false
	}
	return !l.UpdatedAt.Before(listedAt)
}

func (r *Reconciler) deleteOrphan(ctx context.Context, is upstream.Issuer, t upstream.Token, l *lease.Lease, rep *Report) error {
	attrs := []any{slog.String("upstream", is.Upstream()), slog.String("upstream_account", is.Account()),
		slog.String("token_id", t.ID), slog.String("token_name", t.Name)}
	if l != nil {
		attrs = append(attrs, slog.String("lease_id", l.ID), slog.String("lease_state", string(l.State)))
	}
	if err := is.Delete(upstream.WithPriority(ctx, upstream.PriorityRevoke), t.ID); err != nil {
		r.log.WarnContext(ctx, "cannot delete an orphaned upstream token; will retry next run",
			append(attrs, slog.Any("error", err))...)
		return fmt.Errorf("delete orphan: %w", err)
	}
	r.metrics.orphans.WithLabelValues(is.Upstream()).Inc()
	rep.Deleted = append(rep.Deleted, Token{Upstream: is.Upstream(), Account: is.Account(), ID: t.ID, Name: t.Name})
	r.log.WarnContext(ctx, "deleted an orphaned upstream token", attrs...)
	return nil
}

func (r *Reconciler) flagVanished(ctx context.Context, l *lease.Lease) {
	if r.flagged[l.ID] {
		return
	}
	r.metrics.vanished.WithLabelValues(l.Upstream).Inc()
	r.log.WarnContext(ctx, "an active lease's token has vanished upstream",
		slog.String("lease_id", l.ID), slog.String("purpose", l.Purpose),
		slog.String("upstream", l.Upstream), slog.String("upstream_account", l.UpstreamAccount))
	now := r.cfg.Now()
	err := r.cfg.Store.AppendAudit(ctx, &store.AuditEvent{
		Time: now, Action: "upstream_vanished", ActorKind: "system", ActorSubject: "reconcile",
		Purpose: l.Purpose, LeaseID: l.ID, Result: "error", Reason: "token missing upstream",
		TokenSHA256: l.TokenSHA256, Upstream: l.Upstream,
	})
	if err != nil {
		r.log.WarnContext(ctx, "cannot audit a vanished token", slog.String("lease_id", l.ID), slog.Any("error", err))
	}
}
