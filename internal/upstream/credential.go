package upstream

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// AdminInfo is what the broker knows upstream about its own credential.
type AdminInfo struct {
	// KeyID is the credential's upstream id: the New Central key id or the
	// Legacy token name. Empty while unknown.
	KeyID string
	// Account is the service account holding the key (New Central) or the
	// Legacy user id.
	Account string
	// Expires is the key's own expiry on the broker's clock; zero when it
	// has none (Legacy) or it is not known.
	Expires time.Time
	// Source says where the secret came from: SourceConfig or
	// SourceRotated.
	Source string
}

// Where an admin secret came from.
const (
	// SourceConfig is the environment variable or file the config names.
	SourceConfig = "config"
	// SourceRotated is a key the broker minted by rotation and keeps
	// sealed in its database.
	SourceRotated = "rotated"
)

// refreshEvery bounds how often a rejected credential asks for a fresh
// one: a burst of 401s costs one reload, not one per call.
const refreshEvery = time.Second

// AdminCredential is one upstream's own credential, shared by every client
// of that upstream. Rotation and file reloads swap the secret in place, so
// the next request uses the new one without rebuilding any client.
//
// It also names the keys no cleanup may ever delete: the credential's own
// key and any other the rotation has in flight.
type AdminCredential struct {
	mu        sync.RWMutex
	secret    string
	info      AdminInfo
	version   uint64
	protected map[string]bool

	refreshMu   sync.Mutex
	refresher   func(context.Context) error
	lastRefresh time.Time
	log         *slog.Logger
}

// NewAdminCredential holds secret, from the configuration.
func NewAdminCredential(secret string) *AdminCredential {
	return &AdminCredential{secret: secret, info: AdminInfo{Source: SourceConfig}, version: 1}
}

// Secret returns the secret to send, with the version it belongs to.
func (c *AdminCredential) Secret() (string, uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.secret, c.version
}

// Info returns what is known of the credential upstream.
func (c *AdminCredential) Info() AdminInfo {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.info
}

// Version counts the secrets this credential has held.
func (c *AdminCredential) Version() uint64 {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.version
}

// Set switches to a new secret. A secret equal to the current one only
// updates info.
func (c *AdminCredential) Set(secret string, info AdminInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if secret != c.secret {
		c.secret = secret
		c.version++
	}
	c.info = info
}

// SetInfo records what was learnt about the current secret upstream.
func (c *AdminCredential) SetInfo(info AdminInfo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.info = info
}

// SetProtected replaces the ids, besides the credential's own key, that no
// cleanup may delete: the keys of a rotation in flight.
func (c *AdminCredential) SetProtected(ids ...string) {
	m := make(map[string]bool, len(ids))
	for _, id := range ids {
		if id != "" {
			m[id] = true
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.protected = m
}

// IsProtected reports whether id is the credential's own key or one the
// rotation has in flight.
func (c *AdminCredential) IsProtected(id string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return id != "" && (id == c.info.KeyID || c.protected[id])
}

// SetRefresher installs what Refresh calls: typically a reload of the
// current secret from the database, where a rotation on another replica
// has put a new one.
func (c *AdminCredential) SetRefresher(f func(context.Context) error, log *slog.Logger) {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	c.refresher, c.log = f, log
}

// Refresh is called by a client whose request was refused with the secret
// of version seen. It reports whether a newer secret is now in place, so
// the request is worth repeating once.
func (c *AdminCredential) Refresh(ctx context.Context, seen uint64) bool {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	if c.Version() != seen {
		return true
	}
	if c.refresher == nil || time.Since(c.lastRefresh) < refreshEvery {
		return false
	}
	c.lastRefresh = time.Now()
	if err := c.refresher(ctx); err != nil && c.log != nil {
		c.log.WarnContext(ctx, "reloading the admin credential after a refusal failed", "err", err)
	}
	return c.Version() != seen
}

// String keeps the secret out of anything that prints a credential.
func (c *AdminCredential) String() string {
	info := c.Info()
	return fmt.Sprintf("AdminCredential{key:%q account:%q source:%s secret:[redacted]}", info.KeyID, info.Account, info.Source)
}

// LogValue implements slog.LogValuer without the secret.
func (c *AdminCredential) LogValue() slog.Value {
	info := c.Info()
	return slog.GroupValue(slog.String("key_id", info.KeyID), slog.String("account", info.Account),
		slog.String("source", info.Source))
}
