package reconcile

import (
	"errors"
	"fmt"
	"time"

	"github.com/ztbroker/ztbroker/internal/worker"
)

// Defaults for zero Config fields.
const (
	DefaultPendingTimeout = 5 * time.Minute
	DefaultInterval       = 10 * time.Minute
	DefaultRunTimeout     = 5 * time.Minute
)

// Config configures a Reconciler. Deps' Store, Registry and Logger, and
// Prefix, are required; every other zero field takes its default.
type Config struct {
	worker.Deps

	// Prefix is the broker's token name prefix (lease.UpstreamNameFor).
	// Only tokens named exactly as lease.ParseUpstreamName accepts are ever
	// considered ours.
	Prefix string
	// PendingTimeout is the age below which a pending lease is a mint in
	// flight. Use the sweeper's value.
	PendingTimeout time.Duration
	// Interval is the time between runs of the loop.
	Interval time.Duration
	// RunTimeout bounds one run.
	RunTimeout time.Duration

	// Guards watch each upstream's accounts for foreign credentials;
	// accounts no guard names are only reconciled.
	Guards []Guard

	// OnRun, when set, is called after every run the loop makes. It runs
	// on the reconciler goroutine and must not block.
	OnRun func(Report, error)
}

func (c *Config) setDefaults() {
	c.SetDefaults()
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
	errs := c.Validate()
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
	for i, g := range c.Guards {
		switch {
		case g.Upstream == "" || g.Kind == "":
			errs = append(errs, fmt.Errorf("Guards[%d]: Upstream and Kind are required", i))
		case g.ForeignKeys != "" && g.ForeignKeys != ForeignAlarm && g.ForeignKeys != ForeignDelete:
			errs = append(errs, fmt.Errorf("Guards[%d]: ForeignKeys must be %q or %q", i, ForeignAlarm, ForeignDelete))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("reconcile config: %w", err)
	}
	return nil
}
