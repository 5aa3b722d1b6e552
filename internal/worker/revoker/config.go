package revoker

import (
	"errors"
	"fmt"
	"time"

	"github.com/ztbroker/ztbroker/internal/worker"
)

// Defaults for zero Config fields.
const (
	DefaultBatchSize            = 100
	DefaultClaimTimeout         = time.Minute
	DefaultMaxAttempts          = 8
	DefaultPermanentMaxAttempts = 3
	DefaultBackoffBase          = time.Second
	DefaultBackoffMax           = 5 * time.Minute
	DefaultRevokeFailedRetry    = time.Hour
	DefaultMaxIdle              = 30 * time.Second
	DefaultConcurrency          = 16
)

// Config configures a Worker. Deps' Store, Registry and Logger are
// required; every other zero field takes its default.
type Config struct {
	worker.Deps

	// BatchSize is how many leases one pass claims.
	BatchSize int
	// ClaimTimeout is how long a claim hides a lease from other replicas.
	ClaimTimeout time.Duration
	// BatchTimeout bounds one pass's upstream work. It must be shorter
	// than ClaimTimeout, or a slow pass could still be deleting a token
	// when another replica's claim on it begins. Default ClaimTimeout/2.
	BatchTimeout time.Duration
	// MaxAttempts is how many failed deletes move a lease to
	// revoke_failed.
	MaxAttempts int
	// PermanentMaxAttempts replaces MaxAttempts when the upstream says the
	// error is not retryable. It is capped at MaxAttempts.
	PermanentMaxAttempts int
	// BackoffBase and BackoffMax shape the retry delay.
	BackoffBase time.Duration
	BackoffMax  time.Duration
	// RevokeFailedRetry is the slow retry interval for revoke_failed.
	RevokeFailedRetry time.Duration
	// MaxIdle is the longest the loop sleeps, so leases created by other
	// replicas (which cannot Nudge this one) are still found in time.
	MaxIdle time.Duration
	// Concurrency is how many upstream deletes of one batch run at once.
	Concurrency int

	// OnBatch, when set, is called after every pass with its result. It
	// runs on the worker goroutine and must not block.
	OnBatch func(BatchResult)
}

func (c *Config) setDefaults() {
	c.SetDefaults()
	setDefault(&c.BatchSize, DefaultBatchSize)
	setDefault(&c.ClaimTimeout, DefaultClaimTimeout)
	setDefault(&c.BatchTimeout, c.ClaimTimeout/2)
	setDefault(&c.MaxAttempts, DefaultMaxAttempts)
	setDefault(&c.PermanentMaxAttempts, min(DefaultPermanentMaxAttempts, c.MaxAttempts))
	setDefault(&c.BackoffBase, DefaultBackoffBase)
	setDefault(&c.BackoffMax, DefaultBackoffMax)
	setDefault(&c.RevokeFailedRetry, DefaultRevokeFailedRetry)
	setDefault(&c.MaxIdle, DefaultMaxIdle)
	setDefault(&c.Concurrency, DefaultConcurrency)
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

func (c *Config) validate() error {
	errs := c.Validate()
	for _, f := range []struct {
		name string
		v    int
	}{
		{"BatchSize", c.BatchSize}, {"MaxAttempts", c.MaxAttempts},
		{"PermanentMaxAttempts", c.PermanentMaxAttempts}, {"Concurrency", c.Concurrency},
	} {
		if f.v < 1 {
			errs = append(errs, fmt.Errorf("%s must be at least 1, got %d", f.name, f.v))
		}
	}
	for _, f := range []struct {
		name string
		v    time.Duration
	}{
		{"ClaimTimeout", c.ClaimTimeout}, {"BatchTimeout", c.BatchTimeout},
		{"BackoffBase", c.BackoffBase}, {"BackoffMax", c.BackoffMax},
		{"RevokeFailedRetry", c.RevokeFailedRetry}, {"MaxIdle", c.MaxIdle},
	} {
		if f.v <= 0 {
			errs = append(errs, fmt.Errorf("%s must be positive, got %s", f.name, f.v))
		}
	}
	if c.BatchTimeout >= c.ClaimTimeout {
		errs = append(errs, fmt.Errorf("BatchTimeout (%s) must be shorter than ClaimTimeout (%s)", c.BatchTimeout, c.ClaimTimeout))
	}
	if c.BackoffMax < c.BackoffBase {
		errs = append(errs, fmt.Errorf("BackoffMax (%s) must not be below BackoffBase (%s)", c.BackoffMax, c.BackoffBase))
	}
	if c.PermanentMaxAttempts > c.MaxAttempts {
		errs = append(errs, fmt.Errorf("PermanentMaxAttempts (%d) must not exceed MaxAttempts (%d)", c.PermanentMaxAttempts, c.MaxAttempts))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("revoker config: %w", err)
	}
	return nil
}
