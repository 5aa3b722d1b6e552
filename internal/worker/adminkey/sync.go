package adminkey

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/upstream"
)

func hashSecret(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// sealAAD binds a sealed key to its upstream and id, so a row copied to
// another upstream or key does not open.
func sealAAD(upstreamName, keyID string) string {
	return "ztbroker/upstream-credential/" + upstreamName + "/" + keyID
}

// sync settles which secret the upstream's credential holds and which keys
// are protected, as the package documentation describes. On any failure
// the credential keeps the secret it had.
func (k *Keeper) sync(ctx context.Context, m *managed) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	err := k.syncLocked(ctx, m)
	m.lastErr = err
	return err
}

// refresh is the credential's refresher, called by a client whose request
// was refused. A sync or rotation step already running for the upstream
// may be the very caller, so it never waits for one.
func (k *Keeper) refresh(ctx context.Context, m *managed) error {
	if !m.mu.TryLock() {
		return nil
	}
	defer m.mu.Unlock()
	return k.syncLocked(ctx, m)
}

func (k *Keeper) syncLocked(ctx context.Context, m *managed) error {
	u := m.u
	k.readConfigLocked(ctx, m)
	configSHA := hashSecret(m.configSecret)

	stored, err := k.cfg.Store.CurrentCredential(ctx, store.CurrentCredentialParams{Upstream: u.Name})
	switch {
	case errors.Is(err, errs.NotFound):
		stored = nil
	case err != nil:
		return fmt.Errorf("reading the stored admin key: %w", err)
	}
	open, err := k.cfg.Store.OpenRotation(ctx, store.OpenRotationParams{Upstream: u.Name})
	switch {
	case errors.Is(err, errs.NotFound):
		open = nil
	case err != nil:
		return fmt.Errorf("reading the open rotation: %w", err)
	}
	m.open = open != nil
	// Protect the rotation's keys before anything else can list them.
	if open != nil {
		u.Credential.SetProtected(open.OldKeyID, open.NewKeyID)
	} else {
		u.Credential.SetProtected()
	}

	want, info := m.configSecret, upstream.AdminInfo{Source: upstream.SourceConfig}
	superseded := false
	if stored != nil {
		if configSHA == stored.ConfigSHA256 || configSHA == stored.SHA256 {
			secret, err := k.unseal(u.Name, stored)
			if err != nil {
				return err
			}
			want = secret
			info = upstream.AdminInfo{KeyID: stored.KeyID, Account: stored.Account, Expires: stored.Expires, Source: upstream.SourceRotated}
		} else {
			// The configuration names a key no rotation started from: an
			// operator installed it, and it takes over.
			superseded = true
		}
	}
	if err := k.adoptLocked(ctx, m, want, info); err != nil {
		return err
	}
	if superseded && u.Credential.Info().Source == upstream.SourceConfig {
		k.retireSupersededLocked(ctx, m, stored)
	}
	return nil
}

// readConfigLocked re-reads the secret file if it changed. A file that
// cannot be read keeps the previous secret: a rotation half written by a
// secret manager must not take the broker down.
func (k *Keeper) readConfigLocked(ctx context.Context, m *managed) {
	if m.u.SecretFile == "" {
		return
	}
	st := statFile(m.u.SecretFile)
	if st == m.file {
		return
	}
	m.file = st
	secret, err := readSecret(m.u.SecretFile)
	if err != nil {
		k.log.ErrorContext(ctx, "cannot read the admin key file; keeping the previous key",
			slog.String("upstream", m.u.Name), slog.Any("error", err))
		return
	}
	if secret != m.configSecret {
		k.log.InfoContext(ctx, "admin key file changed", slog.String("upstream", m.u.Name),
			slog.String("file", m.u.SecretFile))
		m.configSecret = secret
	}
}

func (k *Keeper) unseal(name string, c *store.UpstreamCredential) (string, error) {
	if k.cfg.Sealer == nil {
		return "", fmt.Errorf("the admin key %s rotated earlier is stored sealed, and no seal key is configured to open it", c.KeyID)
	}
	b, err := k.cfg.Sealer.Open(c.Sealed, sealAAD(name, c.KeyID))
	if err != nil {
		return "", fmt.Errorf("the admin key %s rotated earlier cannot be unsealed; is idempotency.seal_key the one it was sealed with? %w", c.KeyID, err)
	}
	return string(b), nil
}

// adoptLocked makes want the credential's secret. A rotated key is tried
// upstream first; its id and expiry are the store's (inspection could not
// find it anyway: its name is the broker's own). A configured key is
// inspected, which checks it and learns its id and expiry; on failure the
// previous secret is restored.
func (k *Keeper) adoptLocked(ctx context.Context, m *managed, want string, info upstream.AdminInfo) error {
	u := m.u
	cur, _ := u.Credential.Secret()
	prevInfo := u.Credential.Info()
	if want == cur && m.inspected() {
		if info.Source == upstream.SourceRotated {
			u.Credential.SetInfo(info)
		}
		return nil
	}
	// A configured key's inspection checks it, with clearer words.
	if info.Source == upstream.SourceRotated {
		if err := u.Check(ctx, want); err != nil {
			return fmt.Errorf("the rotated admin key %s is refused upstream; keeping the one in use: %w", keyName(info.KeyID), err)
		}
	}
	u.Credential.Set(want, info)
	if info.Source == upstream.SourceConfig {
		previous := ""
		if want != cur {
			previous = prevInfo.KeyID
		}
		got, err := u.Inspect(ctx, previous)
		if err != nil && !acceptable(err) {
			if want != cur {
				u.Credential.Set(cur, prevInfo)
			}
			return err
		}
		if err != nil {
			k.log.WarnContext(ctx, "the admin credential works, but which of the upstream's tokens it is is unknown",
				slog.String("upstream", u.Name), slog.Any("error", err))
		}
		got.Source = upstream.SourceConfig
		u.Credential.SetInfo(got)
	}
	m.setInspected()
	if want != cur {
		now := u.Credential.Info()
		k.log.InfoContext(ctx, "admin credential switched", slog.String("upstream", u.Name),
			slog.String("from_key", prevInfo.KeyID), slog.String("to_key", now.KeyID), slog.String("source", now.Source))
	}
	return nil
}

// retireSupersededLocked deletes the rotated key an operator's configured
// key replaced, then forgets it. Failures are retried at the next sync.
func (k *Keeper) retireSupersededLocked(ctx context.Context, m *managed, stored *store.UpstreamCredential) {
	u := m.u
	if u.API != nil {
		if err := u.API.DeleteKey(ctx, "retire_key", stored.Account, stored.KeyID); err != nil {
			k.log.WarnContext(ctx, "cannot delete the rotated admin key the configuration replaced; will retry",
				slog.String("upstream", u.Name), slog.String("key_id", stored.KeyID), slog.Any("error", err))
			return
		}
	}
	err := k.cfg.Store.DropCredential(ctx, store.DropCredentialParams{
		Upstream: u.Name, KeyID: stored.KeyID,
		Audit: &store.AuditEvent{
			Time: k.cfg.Now(), Action: ActionReplacedByConfig, ActorKind: "system", ActorSubject: workerName,
			Upstream: u.Name, Result: "ok", Reason: fmt.Sprintf("upstream %s: configured admin key %s replaces rotated key %s",
				u.Name, u.Credential.Info().KeyID, stored.KeyID),
		},
	})
	if err != nil && !errors.Is(err, errs.NotFound) {
		k.log.WarnContext(ctx, "cannot forget the replaced admin key; will retry", slog.String("upstream", u.Name), slog.Any("error", err))
		return
	}
	k.log.WarnContext(ctx, "the configured admin key replaced the rotated one, which was deleted",
		slog.String("upstream", u.Name), slog.String("deleted_key", stored.KeyID))
}

// acceptable reports a start-up finding that does not stop the broker:
// a Legacy admin token whose name cannot be told.
func acceptable(err error) bool { return errors.Is(err, ErrKeyUnknown) }

// ErrKeyUnknown is wrapped by an Inspect error meaning the credential
// works but its key cannot be identified; the broker carries on.
var ErrKeyUnknown = errors.New("admin key unknown")

func keyName(id string) string {
	if id == "" {
		return "(id unknown)"
	}
	return id
}
