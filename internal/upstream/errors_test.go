package upstream_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/upstream"
)

func TestStatusErrorClassification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status    int
		retryable bool
		kind      error
	}{
		{400, false, errs.FailedPrecondition},
		{401, false, errs.FailedPrecondition},
		{403, false, errs.FailedPrecondition},
		{404, false, errs.FailedPrecondition},
		{409, false, errs.FailedPrecondition},
		{413, false, errs.FailedPrecondition},
		{429, true, errs.Unavailable},
		{500, true, errs.Unavailable},
		{501, false, errs.FailedPrecondition},
		{502, true, errs.Unavailable},
		{503, true, errs.Unavailable},
		{504, true, errs.Unavailable},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.status), func(t *testing.T) {
			t.Parallel()
			err := error(upstream.StatusError("mint", tt.status, 3*time.Second))
			if got := upstream.IsRetryable(err); got != tt.retryable {
				t.Errorf("IsRetryable = %v, want %v", got, tt.retryable)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("%v does not wrap %v", err, tt.kind)
			}
			if got := upstream.RetryAfterOf(fmt.Errorf("wrapped: %w", err)); got != 3*time.Second {
				t.Errorf("RetryAfterOf = %v, want 3s", got)
			}
		})
	}
}

func TestTransportErrorClassification(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		cause error
		is    error
	}{
		{"timeout", context.DeadlineExceeded, context.DeadlineExceeded},
		{"cancelled", context.Canceled, context.Canceled},
		{"network", &net.OpError{Op: "dial", Err: errors.New("connection refused")}, errs.Unavailable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := upstream.TransportError("delete", tt.cause)
			if !upstream.IsRetryable(err) {
				t.Errorf("%v is not retryable", err)
			}
			if !errors.Is(err, tt.is) {
				t.Errorf("%v does not wrap %v", err, tt.is)
			}
		})
	}
}

func TestIsRetryableForeignErrors(t *testing.T) {
	t.Parallel()
	if upstream.IsRetryable(errors.New("boom")) {
		t.Error("a foreign error was called retryable")
	}
	if !upstream.IsRetryable(fmt.Errorf("x: %w", context.DeadlineExceeded)) {
		t.Error("a deadline was not called retryable")
	}
	if upstream.RetryAfterOf(errors.New("boom")) != 0 {
		t.Error("a foreign error carried a RetryAfter")
	}
}
