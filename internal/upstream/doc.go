// Package upstream defines how the broker talks to ZeroTier Central: an
// Issuer mints, deletes and lists tokens on one account. The newcentral and
// legacy subpackages are the real HTTP clients; emulator fakes both APIs.
//
// Cross-cutting behaviour — rate limiting, timeouts, 429 handling, metrics
// and tracing — lives in http.RoundTripper decorators in this package, so
// every client gets it the same way.
package upstream
