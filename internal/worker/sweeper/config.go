package sweeper

import (
	"errors"
	"fmt"
	"time"

	"github.com/ztbroker/ztbroker/internal/worker"
)

// Defaults for zero Config fields.
const (
	DefaultPendingTimeout = 5 * time.Minute
	DefaultInterval       = time.Minute
	DefaultClaimTimeout   = 2 * time.Minute
	DefaultBatchSize      = 100
)

// Config configures a Sweeper. Deps' Store, Registry and Logger are
// required; every other zero field takes its default.
type Config struct {
	worker.Deps

	// PendingTimeout is the age at which a pending lease counts as an
	// interrupted mint.
	PendingTimeout time.Duration
	// Interval is the time between passes.
	Interval time.Duration
	// ClaimTimeout is how long a claim hides a lease from other replicas;
	// a pass that fails leaves the lease to be retried after it.
	ClaimTimeout time.Duration
	// PassTimeout bounds one pass. It must be shorter than ClaimTimeout.
	// Default ClaimTimeout/2.
	PassTimeout time.Duration
	// BatchSize is how many leases one pass claims.
	BatchSize int

	// OnPass, when set, is called after every pass the loop runs. It runs
	// on the sweeper goroutine and must not block.
	OnPass func(PassResult)
}

func (c *Config) setDefaults() {
	c.SetDefaults()
	if c.PendingTimeout == 0 {
		c.PendingTimeout = DefaultPendingTimeout
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.ClaimTimeout == 0 {
		c.ClaimTimeout = DefaultClaimTimeout
	}
	if c.PassTimeout == 0 {
		c.PassTimeout = c.ClaimTimeout / 2
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
}

func (c *Config) validate() error {
	errs := c.Validate()
	if c.BatchSize < 1 {
		errs = append(errs, fmt.Errorf("BatchSize must be at least 1, got %d", c.BatchSize))
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"PendingTimeout", c.PendingTimeout}, {"Interval", c.Interval},
		{"ClaimTimeout", c.ClaimTimeout}, {"PassTimeout", c.PassTimeout},
	} {
		if f.v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %s", f.name, f.v))
		}
	}
	if c.PassTimeout >= c.ClaimTimeout {
		errs = append(errs, fmt.Errorf("PassTimeout (%s) must be shorter than ClaimTimeout (%s)", c.PassTimeout, c.ClaimTimeout))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("sweeper config: %w", err)
	}
	return nil
}
