package client

import (
	"log/slog"
	"net/http"
	"time"
)

// Token is an issued ZeroTier Central API token and how to use it. A Token
// is never changed after it is handed out; treat it as read-only.
//
// Its String, GoString and LogValue methods redact the secret, so a Token
// printed with %v or %#v, or logged with slog, does not leak it.
type Token struct {
	// Value is the secret.
	Value string
	// Scheme is the Authorization scheme the API expects: "Bearer" for
	// New Central, "token" for Legacy Central.
	Scheme string
	// APIBaseURL is where to send requests with the token. It may be
	// ZeroTier itself, or the broker when it proxies the API.
	APIBaseURL string
	// Lease is the lease the token belongs to, as of when the token was
	// issued or last renewed.
	Lease Lease
	// Replayed is set when the broker answered a retried issue with the
	// lease it had already issued for the same idempotency key.
	Replayed bool
}

// Expiry is when the token stops working unless its lease is renewed.
func (t *Token) Expiry() time.Time { return t.Lease.ExpireTime }

// Authorization is the value of the Authorization header: scheme, space,
// secret.
func (t *Token) Authorization() string { return t.Scheme + " " + t.Value }

// SetAuthHeader sets r's Authorization header to the token.
func (t *Token) SetAuthHeader(r *http.Request) { r.Header.Set("Authorization", t.Authorization()) }

// String describes the token without its secret.
func (t Token) String() string {
	return "ztbroker token for lease " + t.Lease.ID + " (redacted)"
}

// GoString describes the token without its secret, for %#v.
func (t Token) GoString() string { return t.String() }

// LogValue logs the lease, never the secret.
func (t Token) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("lease_id", t.Lease.ID),
		slog.String("purpose", t.Lease.Purpose),
		slog.Time("expires", t.Lease.ExpireTime),
	)
}
