package auth

import (
	"errors"
	"fmt"
	"strings"

	"github.com/ztbroker/ztbroker/internal/errs"
)

// maxBearerLen bounds what is hashed or parsed per request. Real JWTs from
// CI issuers are a few KiB.
const maxBearerLen = 16 << 10

// bearerFrom returns the token of a single "Bearer <token>" authorization
// value. No value means no bearer; anything else malformed is an error, so a
// typo in the scheme is not mistaken for an anonymous request.
func bearerFrom(values []string) (string, error) {
	switch len(values) {
	case 0:
		return "", nil
	case 1:
	default:
		return "", fmt.Errorf("more than one authorization value: %w", errs.Unauthenticated)
	}
	scheme, token, ok := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return "", fmt.Errorf("authorization scheme must be Bearer: %w", errs.Unauthenticated)
	}
	token = strings.TrimSpace(token)
	if token == "" {
		return "", fmt.Errorf("empty bearer token: %w", errs.Unauthenticated)
	}
	if len(token) > maxBearerLen {
		return "", fmt.Errorf("bearer token longer than %d bytes: %w", maxBearerLen, errs.Unauthenticated)
	}
	return token, nil
}

// Caller-facing messages are fixed so that nothing about why a credential
// failed (which issuer, which key) leaks to a prober.
const (
	msgUnauthenticated = "missing or invalid credentials"
	msgUnavailable     = "authentication temporarily unavailable"
)

// unavailable reports whether authentication failed because a dependency
// (an OIDC issuer's key endpoint) could not be reached, which is not the
// caller's fault and is worth retrying.
func unavailable(err error) bool { return errors.Is(err, errs.Unavailable) }

// FailureReason classifies a failed authentication for metrics.
type FailureReason string

// Failure reasons.
const (
	// FailureMissing: the request carried no credential at all.
	FailureMissing FailureReason = "missing"
	// FailureInvalid: a credential was presented and refused.
	FailureInvalid FailureReason = "invalid"
	// FailureUnavailable: a credential could not be checked (an OIDC
	// issuer's keys were unreachable).
	FailureUnavailable FailureReason = "unavailable"
)

// errNoCredentials is the chain's error for a request that presented
// nothing.
var errNoCredentials = errors.New("no credentials presented")

func failureOf(err error) FailureReason {
	switch {
	case unavailable(err):
		return FailureUnavailable
	case errors.Is(err, errNoCredentials):
		return FailureMissing
	}
	return FailureInvalid
}
