package upstream

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/ztbroker/ztbroker/internal/errs"
)

// Error is an upstream call that failed. Its text is built only from the
// operation, the status code and a message this package chose, never from a
// response body: ZeroTier's create responses carry the new key, and error
// bodies may echo what we sent.
type Error struct {
	// Op names the call, e.g. "mint" or "delete".
	Op string
	// StatusCode is the HTTP status, zero when no response arrived.
	StatusCode int
	// Retryable says the same call may succeed later unchanged.
	Retryable bool
	// RetryAfter is how long the upstream asked us to wait, if it said.
	RetryAfter time.Duration
	// Msg is safe to log and to show an operator.
	Msg string
	// Ambiguous says the call may have taken effect upstream although it
	// did not report success: a create answering 2xx without the created
	// thing. Retryable errors (timeouts, 5xx) are ambiguous too.
	Ambiguous bool

	kind  error
	cause error
}

func (e *Error) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("upstream %s: %s (HTTP %d)", e.Op, e.Msg, e.StatusCode)
	}
	return fmt.Sprintf("upstream %s: %s", e.Op, e.Msg)
}

// Unwrap exposes the errs sentinel the error maps to and, for transport
// failures, the cause (so errors.Is(err, context.DeadlineExceeded) works).
func (e *Error) Unwrap() []error {
	out := make([]error, 0, 2)
	if e.kind != nil {
		out = append(out, e.kind)
	}
	if e.cause != nil {
		out = append(out, e.cause)
	}
	return out
}

// IsRetryable reports whether err is worth retrying unchanged. Errors that
// did not come from this package are treated as retryable only when they
// are timeouts or cancellations.
func IsRetryable(err error) bool {
	var ue *Error
	if errors.As(err, &ue) {
		return ue.Retryable
	}
	return errors.Is(err, context.DeadlineExceeded)
}

// IsAmbiguous reports whether a failed call may still have taken effect
// upstream, so that whatever it created must be looked up and undone.
func IsAmbiguous(err error) bool {
	var ue *Error
	if errors.As(err, &ue) && ue.Ambiguous {
		return true
	}
	return IsRetryable(err)
}

// NewAmbiguousError is a failure after which the upstream may hold what
// the call created: the answer claimed success but lacked its substance.
func NewAmbiguousError(op, msg string) *Error {
	return &Error{Op: op, Msg: msg, Ambiguous: true, kind: errs.Unavailable}
}

// RetryAfterOf returns the wait the upstream asked for, or zero.
func RetryAfterOf(err error) time.Duration {
	var ue *Error
	if errors.As(err, &ue) {
		return ue.RetryAfter
	}
	return 0
}

// NewError builds a permanent error with a fixed message, for failures a
// client detects itself (a malformed response, a bad argument).
func NewError(op, msg string) *Error {
	return &Error{Op: op, Msg: msg, kind: errs.FailedPrecondition}
}

// TransportError classifies a failure before any response arrived. Network
// errors and timeouts are retryable; the cause is kept for errors.Is but
// only its category reaches the message.
func TransportError(op string, err error) *Error {
	var ue *Error
	if errors.As(err, &ue) {
		// Already classified lower down (the rate limiter); keep its verdict.
		c := *ue
		c.Op = op
		return &c
	}
	e := &Error{Op: op, Retryable: true, kind: errs.Unavailable, cause: err}
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		e.Msg = "timed out"
	case errors.Is(err, context.Canceled):
		e.Msg = "cancelled"
	default:
		e.Msg = "request failed"
	}
	return e
}

// StatusError classifies a non-2xx response. retryAfter is what the
// response asked for (see RetryAfterFromResponse); it is kept on any error
// but only a 429 or 503 normally carries one.
func StatusError(op string, status int, retryAfter time.Duration) *Error {
	e := &Error{Op: op, StatusCode: status, RetryAfter: retryAfter}
	switch {
	case status == http.StatusTooManyRequests:
		e.Retryable, e.kind, e.Msg = true, errs.Unavailable, "rate limited by upstream"
	case status == http.StatusInternalServerError, status == http.StatusBadGateway,
		status == http.StatusServiceUnavailable, status == http.StatusGatewayTimeout:
		e.Retryable, e.kind, e.Msg = true, errs.Unavailable, "upstream unavailable"
	case status == http.StatusUnauthorized:
		// Our own admin credential was refused: retrying cannot help until an
		// operator replaces it.
		e.kind, e.Msg = errs.FailedPrecondition, "upstream rejected the broker's admin credential"
	case status == http.StatusForbidden:
		e.kind, e.Msg = errs.FailedPrecondition, "upstream denied the broker's admin credential access"
	case status == http.StatusNotFound:
		e.kind, e.Msg = errs.FailedPrecondition, "upstream resource not found"
	case status == http.StatusBadRequest:
		e.kind, e.Msg = errs.FailedPrecondition, "upstream rejected the request"
	default:
		e.kind, e.Msg = errs.FailedPrecondition, "unexpected upstream status"
	}
	return e
}

// ErrProtected is returned by Delete for the broker's own admin credential
// or a key its rotation has in flight: no cleanup may remove those.
var ErrProtected = &Error{Op: "delete", Msg: "refusing to delete the broker's own admin credential", kind: errs.FailedPrecondition}
