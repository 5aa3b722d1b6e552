package reconcile

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/upstream"
)

// Foreign-key modes.
const (
	ForeignAlarm  = "alarm"
	ForeignDelete = "delete"
)

// Guard says how one upstream's foreign credentials are watched.
type Guard struct {
	// Upstream names the upstream in alarms, metrics and the store, and
	// with Accounts selects the issuers whose listings are guarded: every
	// account the broker mints on, and the admin key's.
	Upstream string
	// Kind is the upstream's API.
	Kind     string
	Accounts []string
	// ForeignKeys is ForeignAlarm (default) or ForeignDelete.
	ForeignKeys string
	// ServiceAccounts, when set, lists the organisation's service
	// accounts, so that new ones are reported (never deleted).
	ServiceAccounts func(ctx context.Context) ([]upstream.Principal, error)
	// Disabled, when set and returning a reason, suspends the foreign
	// check: while the admin credential's own key is unknown it would be
	// reported as foreign.
	Disabled func() string
}

// Audit actions of the guard.
const (
	ActionForeign        = "foreign_credential"
	ActionForeignDeleted = "foreign_credential_deleted"
	ActionNewAccount     = "new_service_account"
	ActionOrgBaseline    = "org_watch_baseline"
)

// maxSuspects bounds the leases an alarm names.
const maxSuspects = 20

// guardFor returns the guard of the upstream an issuer belongs to.
func (r *Reconciler) guardFor(name, account string) (*Guard, bool) {
	for i := range r.cfg.Guards {
		g := &r.cfg.Guards[i]
		if g.Upstream == name && slices.Contains(g.Accounts, account) {
			return g, true
		}
	}
	return nil, false
}

// foreign reports whether a token that is not a lease's is somebody
// else's: not the admin credential or a key its rotation has in flight
// (Protected), and not a key a recorded rotation minted (the rotation
// deletes its own strays).
func (r *Reconciler) foreign(ctx context.Context, t upstream.Token) bool {
	if t.Protected {
		return false
	}
	if id, ok := upstream.ParseAdminKeyDescription(r.cfg.Prefix, t.Name); ok {
		if _, err := r.cfg.Store.GetRotation(ctx, store.GetRotationParams{ID: id}); err == nil {
			return false
		}
	}
	return true
}

// guardToken alarms about, and in delete mode deletes, a foreign token. An
// alarm is raised once, by whichever replica records the sighting first;
// the gauge counts what is there on every run.
func (r *Reconciler) guardToken(ctx context.Context, g *Guard, is upstream.Issuer, t upstream.Token, listedAt time.Time, rep *Report) error {
	tok := Token{Upstream: is.Upstream(), Account: is.Account(), ID: t.ID, Name: t.Name}
	rep.Foreign = append(rep.Foreign, tok)
	key := sightingKey{g.Upstream, store.SightingKey, is.Account(), t.ID}
	if !r.sighted[key] {
		suspects := r.suspects(ctx, g, is.Account(), t.Created, listedAt)
		attrs := []any{
			slog.String("upstream", g.Upstream), slog.String("account", is.Account()), slog.String("key_id", t.ID),
			slog.String("name", t.Name), slog.Any("active_leases", suspects),
		}
		if !t.Created.IsZero() {
			attrs = append(attrs, slog.Time("created", t.Created))
		}
		first, err := r.cfg.Store.RecordSighting(ctx, store.RecordSightingParams{
			Upstream: g.Upstream, Kind: store.SightingKey, Account: is.Account(), ID: t.ID, Created: t.Created,
			Now: listedAt, Audit: r.alarmEvent(g.Upstream, ActionForeign, "alarm", fmt.Sprintf(
				"upstream %s: credential %s (%q) on %s that the broker did not mint; created %s; leases active then: %s",
				g.Upstream, t.ID, t.Name, is.Account(), when(t.Created), list(suspects))),
		})
		if err != nil {
			return fmt.Errorf("record foreign credential %s: %w", t.ID, err)
		}
		r.sighted[key] = true
		if first {
			r.metrics.foreignDetected.WithLabelValues(g.Upstream, store.SightingKey).Inc()
			r.log.ErrorContext(ctx, "a credential the broker did not mint is on its account", attrs...)
		}
	}
	if g.ForeignKeys != ForeignDelete {
		return nil
	}
	if err := is.Delete(upstream.WithPriority(ctx, upstream.PriorityRevoke), t.ID); err != nil {
		r.log.WarnContext(ctx, "cannot delete a foreign credential; will retry next run",
			slog.String("upstream", g.Upstream), slog.String("key_id", t.ID), slog.Any("error", err))
		return fmt.Errorf("delete foreign credential %s: %w", t.ID, err)
	}
	rep.ForeignDeleted = append(rep.ForeignDeleted, tok)
	r.metrics.foreignDeleted.WithLabelValues(g.Upstream).Inc()
	r.log.WarnContext(ctx, "deleted a credential the broker did not mint (foreign_keys: delete)",
		slog.String("upstream", g.Upstream), slog.String("account", is.Account()), slog.String("key_id", t.ID))
	if err := r.cfg.Store.AppendAudit(ctx, r.alarmEvent(g.Upstream, ActionForeignDeleted, "ok",
		fmt.Sprintf("upstream %s: foreign credential %s (%q) on %s deleted", g.Upstream, t.ID, t.Name, is.Account()))); err != nil {
		r.log.WarnContext(ctx, "cannot audit a foreign credential's deletion", slog.String("key_id", t.ID), slog.Any("error", err))
	}
	return nil
}

// suspects names the leases live when a credential appeared: at its
// creation time when known, else since the account's previous listing.
// On New Central any lease's key could have made it, on any account.
func (r *Reconciler) suspects(ctx context.Context, g *Guard, account string, created, listedAt time.Time) []string {
	from, to := created, created
	if created.IsZero() {
		from, to = r.listedBefore[account], listedAt
		if from.IsZero() {
			from = listedAt.Add(-r.cfg.Interval)
		}
	}
	acct := account
	if g.Kind == lease.UpstreamNewCentral {
		acct = ""
	}
	ids, err := r.cfg.Store.LeasesActiveBetween(ctx, store.LeasesActiveBetweenParams{
		Upstream: g.Kind, UpstreamAccount: acct, From: from, To: to, Limit: maxSuspects,
	})
	if err != nil {
		r.log.WarnContext(ctx, "cannot find the leases active when a credential appeared", slog.Any("error", err))
	}
	return ids
}

// watchOrg reports service accounts that appeared in the organisation.
// The first watch of an upstream records what exists as its baseline.
func (r *Reconciler) watchOrg(ctx context.Context, g *Guard, rep *Report) error {
	now := r.cfg.Now()
	accounts, err := g.ServiceAccounts(ctx)
	if err != nil {
		return fmt.Errorf("org watch of %s: %w", g.Upstream, err)
	}
	n, err := r.cfg.Store.CountSightings(ctx, store.CountSightingsParams{Upstream: g.Upstream, Kind: store.SightingServiceAccount})
	if err != nil {
		return fmt.Errorf("org watch of %s: %w", g.Upstream, err)
	}
	if n == 0 {
		for _, sa := range accounts {
			if _, err := r.cfg.Store.RecordSighting(ctx, store.RecordSightingParams{
				Upstream: g.Upstream, Kind: store.SightingServiceAccount, ID: sa.ID, Created: sa.Created, Now: now,
			}); err != nil {
				return fmt.Errorf("org watch of %s: %w", g.Upstream, err)
			}
			r.sighted[sightingKey{g.Upstream, store.SightingServiceAccount, "", sa.ID}] = true
		}
		if err := r.cfg.Store.AppendAudit(ctx, r.alarmEvent(g.Upstream, ActionOrgBaseline, "ok",
			fmt.Sprintf("upstream %s: org watch started with %d service accounts", g.Upstream, len(accounts)))); err != nil {
			return fmt.Errorf("org watch of %s: %w", g.Upstream, err)
		}
		r.log.InfoContext(ctx, "org watch started", slog.String("upstream", g.Upstream), slog.Int("service_accounts", len(accounts)))
		return nil
	}
	for _, sa := range accounts {
		key := sightingKey{g.Upstream, store.SightingServiceAccount, "", sa.ID}
		if r.sighted[key] {
			continue
		}
		suspects := r.suspects(ctx, g, "", sa.Created, now)
		first, err := r.cfg.Store.RecordSighting(ctx, store.RecordSightingParams{
			Upstream: g.Upstream, Kind: store.SightingServiceAccount, ID: sa.ID, Created: sa.Created, Now: now,
			Audit: r.alarmEvent(g.Upstream, ActionNewAccount, "alarm", fmt.Sprintf(
				"upstream %s: new service account %s (%q); created %s; leases active then: %s",
				g.Upstream, sa.ID, sa.Name, when(sa.Created), list(suspects))),
		})
		if err != nil {
			return fmt.Errorf("org watch of %s: %w", g.Upstream, err)
		}
		r.sighted[key] = true
		if first {
			rep.NewServiceAccounts = append(rep.NewServiceAccounts, sa.ID)
			r.metrics.foreignDetected.WithLabelValues(g.Upstream, store.SightingServiceAccount).Inc()
			attrs := []any{slog.String("upstream", g.Upstream), slog.String("service_account", sa.ID),
				slog.String("name", sa.Name), slog.Any("active_leases", suspects)}
			if !sa.Created.IsZero() {
				attrs = append(attrs, slog.Time("created", sa.Created))
			}
			r.log.ErrorContext(ctx, "a new service account appeared in the organisation", attrs...)
		}
	}
	return nil
}

type sightingKey struct{ upstream, kind, account, id string }

func (r *Reconciler) alarmEvent(upstream, action, result, reason string) *store.AuditEvent {
	return &store.AuditEvent{Time: r.cfg.Now(), Action: action, ActorKind: "system", ActorSubject: workerName,
		Upstream: upstream, Result: result, Reason: reason}
}

func when(t time.Time) string {
	if t.IsZero() {
		return "at an unknown time"
	}
	return t.UTC().Format(time.RFC3339)
}

func list(ids []string) string {
	if len(ids) == 0 {
		return "none"
	}
	return strings.Join(ids, ", ")
}
