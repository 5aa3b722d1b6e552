package revoker

import (
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/upstream"
)

func TestPlan(t *testing.T) {
	t.Parallel()
	cfg := Config{BackoffBase: time.Second, BackoffMax: 40 * time.Second}
	cfg.setDefaults()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

	transient := upstream.StatusError("delete", http.StatusServiceUnavailable, 0)
	throttled := upstream.StatusError("delete", http.StatusTooManyRequests, 90*time.Second)
	throttledBare := upstream.StatusError("delete", http.StatusTooManyRequests, 0)
	unavailableFor90s := upstream.StatusError("delete", http.StatusServiceUnavailable, 90*time.Second)
	permanent := upstream.StatusError("delete", http.StatusUnauthorized, 0)
	noIssuer := fmt.Errorf("%w: legacy account %q", errNoIssuer, "u1")

	tests := []struct {
		name     string
		state    lease.State
		attempts int // before this failure
		err      error
		// The delay must fall in [minDelay, maxDelay].
		minDelay, maxDelay time.Duration
		markFailed         bool
	}{
		{"FirstTransient", lease.StateRevoking, 0, transient, 0, time.Second, false},
		{"ThirdTransient", lease.StateRevoking, 2, transient, 0, 4 * time.Second, false},
		{"CappedAtBackoffMax", lease.StateRevoking, 6, transient, 0, 40 * time.Second, false},
		{"RetryAfterWinsWhenLonger", lease.StateRevoking, 0, unavailableFor90s, 90 * time.Second, 90 * time.Second, false},
		{"ThrottledWaitsForReset", lease.StateRevoking, 0, throttled, 90 * time.Second, 91 * time.Second, false},
		{"ThrottledNeverEscalates", lease.StateRevoking, 30, throttled, 90 * time.Second, 91 * time.Second, false},
		{"ThrottledWithoutHeader", lease.StateRevoking, 0, throttledBare, time.Second, 2 * time.Second, false},
		{"LastAttemptMarksFailed", lease.StateRevoking, 7, transient, time.Hour, time.Hour, true},
		{"PermanentGetsFewerTries", lease.StateRevoking, 1, permanent, 0, 2 * time.Second, false},
		{"PermanentExhausted", lease.StateRevoking, 2, permanent, time.Hour, time.Hour, true},
		{"NoIssuerFailsAtOnce", lease.StateRevoking, 0, noIssuer, time.Hour, time.Hour, true},
		{"RevokeFailedRetriesSlowly", lease.StateRevokeFailed, 12, transient, time.Hour, time.Hour, true},
		{"UnknownErrorIsPermanent", lease.StateRevoking, 2, errors.New("boom"), time.Hour, time.Hour, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			l := &lease.Lease{State: tt.state, RevokeAttempts: tt.attempts}
			// Jitter is random; enough draws make a wrong bound show.
			for range 200 {
				p := cfg.plan(now, l, tt.err)
				if p.markFailed != tt.markFailed {
					t.Fatalf("markFailed = %v, want %v", p.markFailed, tt.markFailed)
				}
				if d := p.next.Sub(now); d < tt.minDelay || d > tt.maxDelay {
					t.Fatalf("delay %s outside [%s, %s]", d, tt.minDelay, tt.maxDelay)
				}
			}
		})
	}
}

func TestBackoffCapDoesNotOverflow(t *testing.T) {
	t.Parallel()
	cfg := Config{BackoffBase: time.Second, BackoffMax: 5 * time.Minute}
	for _, attempt := range []int{1, 2, 9, 10, 64, 1000} {
		if got := cfg.backoffCap(attempt); got <= 0 || got > cfg.BackoffMax {
			t.Errorf("backoffCap(%d) = %s, want in (0, %s]", attempt, got, cfg.BackoffMax)
		}
	}
}

func TestFailureTextIsSafe(t *testing.T) {
	t.Parallel()
	secret := "s3cr3t-token-value-0123456789abcdef"
	tests := []struct {
		name string
		err  error
		want string
	}{
		{"UpstreamError", upstream.StatusError("delete", http.StatusBadGateway, 0), "upstream delete: upstream unavailable (HTTP 502)"},
		{"Timeout", fmt.Errorf("op %s: %w", secret, errDeadline()), "upstream delete timed out"},
		{"Foreign", fmt.Errorf("dial https://admin:%s@host: refused", secret), "upstream delete failed"},
		{"NoIssuer", fmt.Errorf("%w: new_central account %q", errNoIssuer, "sa-1"),
			`no issuer configured for the lease's upstream account: new_central account "sa-1"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := failureText(tt.err); got != tt.want {
				t.Errorf("failureText() = %q, want %q", got, tt.want)
			}
		})
	}
}
