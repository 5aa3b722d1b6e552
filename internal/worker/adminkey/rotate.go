package adminkey

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/google/uuid"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/upstream"
)

// Audit actions of this package. Each names the upstream and the key ids
// in its reason; the key's SHA-256 goes in token_sha256.
const (
	ActionRotationStarted  = "admin_key_rotation_started"
	ActionRotated          = "admin_key_rotated"
	ActionRetired          = "admin_key_retired"
	ActionRotationFailed   = "admin_key_rotation_failed"
	ActionReplacedByConfig = "admin_key_replaced_by_config"
)

// systemActor is who a scheduled rotation is requested by.
const systemActor = "system:" + workerName

// trigger asks for a new rotation: by whom and why.
type trigger struct{ by, reason string }

// Rotate rotates the upstream's admin key now. It returns once the new key
// is the current credential (state switched), every replica switching to
// it within its poll; the old key is deleted after the grace period by
// whichever replica holds the rotation lock then. A rotation already open,
// or the lock held by another replica, is an errs.Conflict.
func (k *Keeper) Rotate(ctx context.Context, name, requestedBy, reason string) (*store.Rotation, error) {
	m, err := k.upstream(name)
	if err != nil {
		return nil, err
	}
	if m.u.API == nil {
		return nil, errs.Public(errs.FailedPrecondition, fmt.Sprintf("upstream %q cannot rotate its admin key: only New Central keys rotate", name))
	}
	if k.cfg.Sealer == nil {
		return nil, errs.Public(errs.FailedPrecondition, "rotation needs idempotency.seal_key: the new key is stored sealed with it")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*k.cfg.CallTimeout)
	defer cancel()
	return k.step(ctx, m, &trigger{by: requestedBy, reason: reason})
}

// step takes whatever rotation work is due for m under the rotation lock:
// it advances an open rotation, or starts one when want is set or the
// schedule says the key is due.
func (k *Keeper) step(ctx context.Context, m *managed, want *trigger) (*store.Rotation, error) {
	var out *store.Rotation
	locked, err := k.cfg.Store.RotationLock(ctx, store.RotationLockParams{Upstream: m.u.Name}, func(ctx context.Context) error {
		m.mu.Lock()
		defer m.mu.Unlock()
		// Another replica may have rotated since our last poll.
		if err := k.syncLocked(ctx, m); err != nil {
			return err
		}
		open, err := k.cfg.Store.OpenRotation(ctx, store.OpenRotationParams{Upstream: m.u.Name})
		switch {
		case err == nil:
			out, err = k.advance(ctx, m, open)
			if err == nil && want != nil {
				err = errs.Public(errs.Conflict, fmt.Sprintf("a rotation of upstream %q is already in progress (%s, %s)",
					m.u.Name, out.ID, out.State))
			}
			return err
		case !errors.Is(err, errs.NotFound):
			return err
		}
		if want == nil {
			if !k.due(m) {
				return nil
			}
			info := m.u.Credential.Info()
			want = &trigger{by: systemActor, reason: fmt.Sprintf("expires at %s, within rotate.before (%s)",
				info.Expires.UTC().Format(time.RFC3339), m.u.Rotate.Before)}
		}
		r, err := k.start(ctx, m, want)
		if err != nil {
			return err
		}
		out, err = k.advance(ctx, m, r)
		return err
	})
	if err != nil {
		return out, err
	}
	if !locked && want != nil {
		return nil, errs.Public(errs.Conflict, fmt.Sprintf("another replica is rotating upstream %q; try again shortly", m.u.Name))
	}
	return out, nil
}

// due reports whether the schedule asks for a rotation now.
func (k *Keeper) due(m *managed) bool {
	info := m.u.Credential.Info()
	return m.u.Rotate != nil && !info.Expires.IsZero() && info.Expires.Sub(k.cfg.Now()) <= m.u.Rotate.Before
}

// start records the intent: nothing exists upstream yet.
func (k *Keeper) start(ctx context.Context, m *managed, t *trigger) (*store.Rotation, error) {
	info := m.u.Credential.Info()
	secret, _ := m.u.Credential.Secret()
	if info.KeyID == "" || info.Account == "" {
		return nil, fmt.Errorf("the admin key's id or service account is unknown; set admin_key_id")
	}
	id := uuid.Must(uuid.NewV7()).String()
	now := k.cfg.Now()
	r, err := k.cfg.Store.StartRotation(ctx, store.StartRotationParams{
		ID: id, Upstream: m.u.Name, Account: info.Account,
		Description: upstream.AdminKeyDescription(k.cfg.Prefix, id),
		OldKeyID:    info.KeyID, OldSHA256: hashSecret(secret),
		RequestedBy: t.by, Reason: t.reason, Now: now,
		Audit: k.event(m.u.Name, ActionRotationStarted, t.by, "ok",
			fmt.Sprintf("upstream %s: rotating admin key %s (%s)", m.u.Name, info.KeyID, t.reason), ""),
	})
	if err != nil {
		return nil, fmt.Errorf("recording the rotation: %w", err)
	}
	k.log.InfoContext(ctx, "admin key rotation started", slog.String("upstream", m.u.Name),
		slog.String("rotation_id", id), slog.String("old_key", info.KeyID), slog.String("requested_by", t.by))
	return r, nil
}

// advance takes r as far as it can go now: to switched, and to done once
// the grace period is over.
func (k *Keeper) advance(ctx context.Context, m *managed, r *store.Rotation) (*store.Rotation, error) {
	var err error
	for {
		switch r.State {
		case store.RotationStarted:
			r, err = k.mint(ctx, m, r)
		case store.RotationMinted:
			r, err = k.switchTo(ctx, m, r)
		case store.RotationSwitched:
			if k.cfg.Now().Before(r.RetireAfter) {
				return r, nil
			}
			r, err = k.retire(ctx, m, r)
		default:
			return r, nil
		}
		if err != nil || r == nil {
			return r, err
		}
	}
}

// mint creates the new key. Whatever a crash may have left under the
// rotation's description is deleted first: its secret was never stored,
// so it can only be a stray.
func (k *Keeper) mint(ctx context.Context, m *managed, r *store.Rotation) (*store.Rotation, error) {
	api := m.u.API
	if err := k.deleteStrays(ctx, m, r); err != nil {
		return r, err
	}
	lifetime := DefaultLifetime
	if m.u.Rotate != nil {
		lifetime = m.u.Rotate.Lifetime
	}
	nk, err := api.CreateKey(ctx, "rotate_mint", r.Account, r.Description, k.cfg.Now().Add(lifetime))
	if err != nil {
		if upstream.IsAmbiguous(err) {
			// The key may exist; the next attempt finds and deletes it.
			return r, fmt.Errorf("minting the new admin key: %w", err)
		}
		return k.fail(ctx, m, r, "the new admin key could not be minted: "+safeText(err))
	}
	sealed, err := k.cfg.Sealer.Seal([]byte(nk.Secret), sealAAD(m.u.Name, nk.ID))
	if err == nil {
		var rec *store.Rotation
		rec, err = k.cfg.Store.RecordRotationKey(ctx, store.RecordRotationKeyParams{
			ID: r.ID, NewKeyID: nk.ID, NewSHA256: hashSecret(nk.Secret), Sealed: sealed, Expires: nk.Expires, Now: k.cfg.Now(),
		})
		if err == nil {
			return rec, nil
		}
	}
	// The key exists but could not be kept: delete it now, or the next
	// attempt will by its description.
	if derr := api.DeleteKey(ctx, "rotate_undo", r.Account, nk.ID); derr != nil {
		k.log.WarnContext(ctx, "cannot delete a new admin key that could not be stored; the next attempt will",
			slog.String("upstream", m.u.Name), slog.String("key_id", nk.ID), slog.Any("error", derr))
	}
	return r, fmt.Errorf("storing the new admin key: %w", err)
}

// deleteStrays deletes every key bearing the rotation's description.
func (k *Keeper) deleteStrays(ctx context.Context, m *managed, r *store.Rotation) error {
	strays, err := m.u.API.KeysDescribed(ctx, "rotate_find", r.Account, r.Description)
	if err != nil {
		return fmt.Errorf("looking for keys of an interrupted rotation: %w", err)
	}
	for _, s := range strays {
		if err := m.u.API.DeleteKey(ctx, "rotate_undo", r.Account, s.ID); err != nil {
			return fmt.Errorf("deleting key %s of an interrupted rotation: %w", s.ID, err)
		}
		k.log.WarnContext(ctx, "deleted a key an interrupted rotation had minted", slog.String("upstream", m.u.Name),
			slog.String("rotation_id", r.ID), slog.String("key_id", s.ID))
	}
	return nil
}

// switchTo makes the minted key current: first here, then, through the
// store, on every replica.
func (k *Keeper) switchTo(ctx context.Context, m *managed, r *store.Rotation) (*store.Rotation, error) {
	b, err := k.cfg.Sealer.Open(r.NewSealed, sealAAD(m.u.Name, r.NewKeyID))
	if err != nil {
		return r, fmt.Errorf("opening the new admin key: %w", err)
	}
	secret := string(b)
	if err := m.u.Check(ctx, secret); err != nil {
		if refused(err) {
			if derr := m.u.API.DeleteKey(ctx, "rotate_undo", r.Account, r.NewKeyID); derr != nil {
				return r, fmt.Errorf("the new admin key is refused and could not be deleted: %w", derr)
			}
			return k.fail(ctx, m, r, "the new admin key was refused upstream")
		}
		return r, fmt.Errorf("trying the new admin key: %w", err)
	}
	configSHA := hashSecret(m.configSecret)
	if cur, err := k.cfg.Store.CurrentCredential(ctx, store.CurrentCredentialParams{Upstream: m.u.Name}); err == nil &&
		m.u.Credential.Info().Source == upstream.SourceRotated {
		// Rotating a rotated key: the configured key it all started from
		// is still the one that selects the stored key.
		configSHA = cur.ConfigSHA256
	}
	now := k.cfg.Now()
	sw, err := k.cfg.Store.SwitchRotation(ctx, store.SwitchRotationParams{
		ID: r.ID, ConfigSHA256: configSHA, RetireAfter: now.Add(m.u.Grace), Now: now,
		Audit: k.event(m.u.Name, ActionRotated, r.RequestedBy, "ok",
			fmt.Sprintf("upstream %s: admin key %s replaces %s, expires %s; %s is deleted after %s",
				m.u.Name, r.NewKeyID, r.OldKeyID, r.NewExpires.UTC().Format(time.RFC3339), r.OldKeyID, m.u.Grace), r.NewSHA256),
	})
	if err != nil {
		return r, fmt.Errorf("switching to the new admin key: %w", err)
	}
	m.u.Credential.Set(secret, upstream.AdminInfo{KeyID: r.NewKeyID, Account: r.Account, Expires: r.NewExpires, Source: upstream.SourceRotated})
	m.u.Credential.SetProtected(r.OldKeyID, r.NewKeyID)
	k.metrics.rotations.WithLabelValues(m.u.Name, "switched").Inc()
	k.log.InfoContext(ctx, "admin key rotated", slog.String("upstream", m.u.Name), slog.String("rotation_id", r.ID),
		slog.String("old_key", r.OldKeyID), slog.String("new_key", r.NewKeyID), slog.Time("expires", r.NewExpires),
		slog.Time("old_key_deleted_after", sw.RetireAfter))
	return sw, nil
}

// retire deletes the old key once every replica has had the grace period
// to switch, and closes the rotation.
func (k *Keeper) retire(ctx context.Context, m *managed, r *store.Rotation) (*store.Rotation, error) {
	if err := m.u.API.DeleteKey(ctx, "rotate_retire", r.Account, r.OldKeyID); err != nil {
		return r, fmt.Errorf("deleting the old admin key %s: %w", r.OldKeyID, err)
	}
	done, err := k.cfg.Store.FinishRotation(ctx, store.FinishRotationParams{
		ID: r.ID, State: store.RotationDone, Now: k.cfg.Now(),
		Audit: k.event(m.u.Name, ActionRetired, r.RequestedBy, "ok",
			fmt.Sprintf("upstream %s: old admin key %s deleted", m.u.Name, r.OldKeyID), r.OldSHA256),
	})
	if err != nil {
		return r, fmt.Errorf("closing the rotation: %w", err)
	}
	m.u.Credential.SetProtected()
	k.metrics.rotations.WithLabelValues(m.u.Name, "done").Inc()
	k.log.InfoContext(ctx, "old admin key deleted; rotation done", slog.String("upstream", m.u.Name),
		slog.String("rotation_id", r.ID), slog.String("old_key", r.OldKeyID))
	return done, nil
}

// fail closes r as failed: the old key stays in use.
func (k *Keeper) fail(ctx context.Context, m *managed, r *store.Rotation, why string) (*store.Rotation, error) {
	f, err := k.cfg.Store.FinishRotation(ctx, store.FinishRotationParams{
		ID: r.ID, State: store.RotationFailed, Error: why, Now: k.cfg.Now(),
		Audit: k.event(m.u.Name, ActionRotationFailed, r.RequestedBy, "failed", fmt.Sprintf("upstream %s: %s", m.u.Name, why), ""),
	})
	if err != nil {
		return r, fmt.Errorf("closing the failed rotation: %w", err)
	}
	m.u.Credential.SetProtected()
	k.metrics.rotations.WithLabelValues(m.u.Name, "failed").Inc()
	k.log.ErrorContext(ctx, "admin key rotation failed; the old key stays in use", slog.String("upstream", m.u.Name),
		slog.String("rotation_id", r.ID), slog.String("reason", why))
	return f, errs.Public(errs.Unavailable, fmt.Sprintf("rotation of upstream %q failed: %s", m.u.Name, why))
}

func (k *Keeper) event(upstream, action, by, result, reason, sha string) *store.AuditEvent {
	kind, subject := "system", workerName
	if by != "" && by != systemActor {
		if kk, ss, ok := cut(by); ok {
			kind, subject = kk, ss
		}
	}
	return &store.AuditEvent{Time: k.cfg.Now(), Action: action, ActorKind: kind, ActorSubject: subject,
		Result: result, Reason: reason, TokenSHA256: sha, Upstream: upstream}
}

func cut(owner string) (kind, subject string, ok bool) {
	for i := 0; i < len(owner); i++ {
		if owner[i] == ':' {
			return owner[:i], owner[i+1:], true
		}
	}
	return "", "", false
}

// refused reports an answer that says the key itself is no good.
func refused(err error) bool {
	var ue *upstream.Error
	return errors.As(err, &ue) && (ue.StatusCode == http.StatusUnauthorized || ue.StatusCode == http.StatusForbidden)
}

// safeText is an upstream error's message, which this package's errors
// never build from a response body.
func safeText(err error) string {
	var ue *upstream.Error
	if errors.As(err, &ue) {
		return ue.Error()
	}
	return "upstream error"
}
