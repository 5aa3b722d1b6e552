package adminkey

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/newcentral"
	"github.com/ztbroker/ztbroker/internal/worker"
)

// Defaults for zero fields.
const (
	DefaultPoll          = 15 * time.Second
	DefaultFileCheck     = 5 * time.Second
	DefaultExpiryWarning = 7 * 24 * time.Hour
	DefaultGrace         = 2 * time.Minute
	// DefaultCallTimeout bounds one sync or rotation step's upstream
	// calls.
	DefaultCallTimeout = 30 * time.Second
)

// Sealer encrypts the rotated key for the store.
type Sealer interface {
	Seal(plaintext []byte, aad string) ([]byte, error)
	Open(sealed []byte, aad string) ([]byte, error)
}

// Upstream is one upstream's admin credential and what to do with it.
type Upstream struct {
	// Name identifies the upstream in metrics, logs, audit events and the
	// store.
	Name string
	// Kind is lease.UpstreamNewCentral or lease.UpstreamLegacy.
	Kind string
	// Credential is the secret every client of the upstream sends.
	Credential *upstream.AdminCredential
	// SecretFile, when set, is where the configured secret lives; it is
	// re-read when it changes and on Reload. Otherwise the configured
	// secret is the Credential's initial one.
	SecretFile string
	// Inspect checks the current secret upstream and learns its key.
	// previous is the key the credential held before its secret changed,
	// empty at start-up: it is not the new secret's key.
	Inspect func(ctx context.Context, previous string) (upstream.AdminInfo, error)
	// Check tells whether a secret works, before switching to it.
	Check func(ctx context.Context, secret string) error
	// API mints, finds and deletes New Central admin keys; nil for an
	// upstream that cannot rotate (Legacy).
	API *newcentral.API
	// Account is where rotation mints the new key; empty means the
	// account the current key was found on.
	Account string
	// ExpiryWarning: inside it the expiry is logged and shown by Status.
	ExpiryWarning time.Duration
	// ExpiryMinimum: Init fails with less left, unless Rotate is set.
	ExpiryMinimum time.Duration
	// Rotate, when set, rotates the key before it expires. On-demand
	// rotation works without it (New Central only).
	Rotate *Rotate
	// Grace is how long the old key lives on after a switch, for on-demand
	// rotations too; default Rotate.Grace or DefaultGrace.
	Grace time.Duration
	// Poll is how often the stored credential and rotation are looked at.
	Poll time.Duration
}

// Rotate schedules rotation.
type Rotate struct {
	// Before is how long before expiry the key is rotated.
	Before time.Duration
	// Lifetime is the new key's.
	Lifetime time.Duration
	// Grace is how long the old key lives on after the switch.
	Grace time.Duration
}

// DefaultLifetime is a new key's lifetime when rotated on demand without
// a schedule.
const DefaultLifetime = 30 * 24 * time.Hour

// Config configures a Keeper.
type Config struct {
	worker.Deps
	Upstreams []*Upstream
	// Prefix names rotated keys (upstream.AdminKeyDescription).
	Prefix string
	// Sealer seals rotated keys; nil leaves rotation unavailable, and a
	// stored key unreadable.
	Sealer Sealer
	// FileCheck is how often secret files are looked at.
	FileCheck time.Duration
	// CallTimeout bounds one step's upstream calls.
	CallTimeout time.Duration
	// OnSync, when set, is called after each sync of an upstream by the
	// loop, for tests. It must not block.
	OnSync func(upstream string, err error)
}

func (c *Config) setDefaults() {
	c.SetDefaults()
	if c.FileCheck == 0 {
		c.FileCheck = DefaultFileCheck
	}
	if c.CallTimeout == 0 {
		c.CallTimeout = DefaultCallTimeout
	}
	for _, u := range c.Upstreams {
		if u.Poll == 0 {
			u.Poll = DefaultPoll
		}
		if u.ExpiryWarning == 0 {
			u.ExpiryWarning = DefaultExpiryWarning
		}
		if u.Grace == 0 {
			u.Grace = DefaultGrace
			if u.Rotate != nil && u.Rotate.Grace > 0 {
				u.Grace = u.Rotate.Grace
			}
		}
	}
}

func (c *Config) validate() error {
	errs := c.Validate()
	if c.Prefix == "" {
		errs = append(errs, errors.New("Prefix is required"))
	}
	seen := map[string]bool{}
	for i, u := range c.Upstreams {
		switch {
		case u.Name == "" || seen[u.Name]:
			errs = append(errs, fmt.Errorf("upstream %d: a unique Name is required", i))
		case u.Credential == nil || u.Inspect == nil || u.Check == nil:
			errs = append(errs, fmt.Errorf("upstream %s: Credential, Inspect and Check are required", u.Name))
		case u.Rotate != nil && (u.API == nil || c.Sealer == nil):
			errs = append(errs, fmt.Errorf("upstream %s: rotation needs an API and a Sealer", u.Name))
		case u.Rotate != nil && (u.Rotate.Before <= 0 || u.Rotate.Lifetime <= u.Rotate.Before):
			errs = append(errs, fmt.Errorf("upstream %s: rotation needs 0 < Before < Lifetime", u.Name))
		case u.Poll < 0 || u.Grace <= 0:
			errs = append(errs, fmt.Errorf("upstream %s: Poll and Grace must be positive", u.Name))
		}
		seen[u.Name] = true
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("adminkey config: %w", err)
	}
	return nil
}
