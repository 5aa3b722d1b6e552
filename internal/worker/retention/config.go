package retention

import (
	"errors"
	"fmt"
	"time"

	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/worker"
)

// Defaults for zero Config fields.
const (
	DefaultLeaseRetention   = 30 * 24 * time.Hour
	DefaultAuditRetention   = 400 * 24 * time.Hour
	DefaultInterval         = time.Minute
	DefaultAuditInterval    = time.Hour
	DefaultBatchSize        = 500
	DefaultAuditMonthsAhead = 3
	DefaultBatchTimeout     = 30 * time.Second
)

// Config configures a Worker. Deps' Store, Registry, Logger and Panics
// are required; every other zero field takes its default.
type Config struct {
	worker.Deps

	// LeaseRetention is how long a lease is kept after it ended.
	LeaseRetention time.Duration
	// AuditRetention is how long audit events are kept, at least
	// store.MinAuditRetention. A month is dropped once all of it is older.
	AuditRetention time.Duration
	// AuditMonthsAhead is how many months after the current one have
	// their partitions made in advance, 1 to 24.
	AuditMonthsAhead int
	// Interval is the time between lease passes; a pass runs batches
	// until one comes back short.
	Interval time.Duration
	// AuditInterval is the time between audit partition passes.
	AuditInterval time.Duration
	// BatchSize is how many leases one delete takes.
	BatchSize int
	// BatchTimeout bounds one batch or one audit pass.
	BatchTimeout time.Duration

	// OnPass, when set, is called after every pass the loop runs. It runs
	// on the worker's goroutine and must not block.
	OnPass func(PassResult)
}

func (c *Config) setDefaults() {
	c.SetDefaults()
	if c.LeaseRetention == 0 {
		c.LeaseRetention = DefaultLeaseRetention
	}
	if c.AuditRetention == 0 {
		c.AuditRetention = DefaultAuditRetention
	}
	if c.AuditMonthsAhead == 0 {
		c.AuditMonthsAhead = DefaultAuditMonthsAhead
	}
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.AuditInterval == 0 {
		c.AuditInterval = DefaultAuditInterval
	}
	if c.BatchSize == 0 {
		c.BatchSize = DefaultBatchSize
	}
	if c.BatchTimeout == 0 {
		c.BatchTimeout = DefaultBatchTimeout
	}
}

func (c *Config) validate() error {
	errs := c.Validate()
	if c.BatchSize < 1 {
		errs = append(errs, fmt.Errorf("BatchSize must be at least 1, got %d", c.BatchSize))
	}
	if c.AuditMonthsAhead < 1 || c.AuditMonthsAhead > 24 {
		errs = append(errs, fmt.Errorf("AuditMonthsAhead must be between 1 and 24, got %d", c.AuditMonthsAhead))
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"LeaseRetention", c.LeaseRetention}, {"Interval", c.Interval},
		{"AuditInterval", c.AuditInterval}, {"BatchTimeout", c.BatchTimeout},
	} {
		if f.v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %s", f.name, f.v))
		}
	}
	if c.AuditRetention < store.MinAuditRetention {
		errs = append(errs, fmt.Errorf("AuditRetention must be at least %s, got %s", store.MinAuditRetention, c.AuditRetention))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("retention config: %w", err)
	}
	return nil
}
