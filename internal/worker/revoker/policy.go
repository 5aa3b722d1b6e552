package revoker

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/upstream"
)

// errNoIssuer marks a lease whose upstream account is not configured.
var errNoIssuer = errors.New("no issuer configured for the lease's upstream account")

// retryPlan is what to do after a failed delete.
type retryPlan struct {
	next       time.Time
	markFailed bool
}

// plan decides when to retry a lease whose delete failed with err. It is
// the failure policy described in the package documentation.
func (c *Config) plan(now time.Time, l *lease.Lease, err error) retryPlan {
	if l.State != lease.StateRevokeFailed && throttled(err) {
		// Throttling says the upstream works and wants us slower; the
		// client's limiter already pauses every call until the reset.
		// Escalating would trade a wait of seconds for the hourly retry.
		wait := upstream.RetryAfterOf(err)
		if wait <= 0 {
			wait = c.BackoffBase
		}
		return retryPlan{next: now.Add(wait + fullJitter(c.BackoffBase))}
	}
	attempt := l.RevokeAttempts + 1
	limit := c.MaxAttempts
	if !upstream.IsRetryable(err) {
		limit = c.PermanentMaxAttempts
	}
	if errors.Is(err, errNoIssuer) || l.State == lease.StateRevokeFailed || attempt >= limit {
		return retryPlan{next: now.Add(c.RevokeFailedRetry), markFailed: true}
	}
	d := fullJitter(c.backoffCap(attempt))
	if ra := upstream.RetryAfterOf(err); ra > d {
		d = ra
	}
	return retryPlan{next: now.Add(d)}
}

// throttled reports whether the upstream refused the call with a 429.
func throttled(err error) bool {
	var ue *upstream.Error
	return errors.As(err, &ue) && ue.StatusCode == http.StatusTooManyRequests
}

// backoffCap is BackoffBase·2^(attempt-1), capped at BackoffMax without
// overflowing for large attempt counts.
func (c *Config) backoffCap(attempt int) time.Duration {
	d := c.BackoffBase
	for i := 1; i < attempt && d < c.BackoffMax; i++ {
		d *= 2
	}
	return min(d, c.BackoffMax)
}

// fullJitter spreads retries over [0, cap] so that leases which failed
// together (an upstream outage) do not retry together.
func fullJitter(cap time.Duration) time.Duration {
	if cap <= 0 {
		return 0
	}
	return rand.N(cap + 1)
}

// failureText is the lease's last_error: the upstream package builds its
// errors from status codes and fixed phrases only, so they are safe to
// store and show an operator; anything else is reduced to a fixed phrase.
func failureText(err error) string {
	var ue *upstream.Error
	switch {
	case errors.As(err, &ue):
		return ue.Error()
	case errors.Is(err, errNoIssuer):
		// Our own text, naming only the upstream and account id.
		return err.Error()
	case errors.Is(err, context.DeadlineExceeded):
		return "upstream delete timed out"
	default:
		return "upstream delete failed"
	}
}
