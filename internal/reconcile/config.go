package reconcile

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/upstream"
)

// Defaults for zero Config fields.
const (
	DefaultPendingTimeout = 5 * time.Minute
	DefaultInterval       = 10 * time.Minute
	DefaultRunTimeout     = 5 * time.Minute
)

// Config configures a Reconciler. Store, Registry, Logger and Prefix are
// required; every other zero field takes its default.
type Config struct {
	Store    store.Store
	Registry *upstream.Registry
	Logger   *slog.Logger
	// Registerer receives the reconciler's metrics. Nil keeps them private.
	Registerer prometheus.Registerer
	// Now is the clock compared with lease times. Default time.Now.
	Now func() time.Time

	// Prefix is the broker's token name prefix (lease.UpstreamNameFor).
	// Only tokens named Prefix+"-…" are ever considered.
	Prefix string
	// PendingTimeout is the age below which a pending lease is a mint in
	// flight. Use the sweeper's value.
	PendingTimeout time.Duration
	// Interval is the time between runs of the loop.
	Interval time.Duration
	// RunTimeout bounds one run.
	RunTimeout time.Duration

	// OnRun, when set, is called after every run the loop makes. It runs
	// on the reconciler goroutine and must not block.
	OnRun func(Report, error)
}

func (c *Config) setDefaults() {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Registerer == nil {
		c.Registerer = prometheus.NewRegistry()
	}
	if c.PendingTimeout == 0 {
		c.PendingTimeout = DefaultPendingTimeout
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.RunTimeout == 0 {
		c.RunTimeout = DefaultRunTimeout
	}
}

func (c *Config) validate() error {
	var errs []error
	if c.Store == nil {
		errs = append(errs, errors.New("Store is required"))
	}
	if c.Registry == nil {
		errs = append(errs, errors.New("Registry is required"))
	}
	if c.Logger == nil {
		errs = append(errs, errors.New("Logger is required"))
	}
	if c.Prefix == "" {
		// An empty prefix would make every token on the account look like
		// ours.
		errs = append(errs, errors.New("Prefix is required"))
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"PendingTimeout", c.PendingTimeout}, {"Interval", c.Interval}, {"RunTimeout", c.RunTimeout},
	} {
		if f.v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %s", f.name, f.v))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("reconcile config: %w", err)
	}
	return nil
}
