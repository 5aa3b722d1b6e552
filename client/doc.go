// Package client is the Go client of ztbroker, the broker that leases
// short-lived ZeroTier Central API tokens. A Go service uses it to get a
// token that is always valid, without writing the loop of issuing,
// renewing, re-issuing and revoking itself:
//
//	c, err := client.New(ctx, "ztbroker.internal:9090", client.WithAPIKey(key))
//	if err != nil { ... }
//	defer c.Close() // revokes every lease the client holds
//
//	api := c.HTTPClient("netops")          // requests carry a fresh token
//	resp, err := api.Get("/api/v2/network") // sent to the lease's API base URL
//
// # Connecting
//
// New takes the broker's gRPC address and options. Exactly one credential
// says who the caller is: WithAPIKey, WithAPIKeyFile (re-read on every
// call, so rotation needs no restart), WithOIDC with the command line's
// source syntax — "github" for the GitHub Actions ID token, "env:VAR" for
// GitLab CI's id_tokens, "file:PATH" for a Kubernetes projected
// service-account token — or WithCredentials with any credential.Source.
// A client certificate (WithMTLS) may replace or accompany it.
//
// Without TLS options, a loopback or unix: address is reached in plaintext
// and any other address over TLS with the system roots; WithTLSCA,
// WithMTLS and WithTLSConfig change that, and WithInsecure forces
// plaintext. No connection is made until the first call.
//
// # Calls
//
// Issue, Renew, Revoke, Get and List are thin, typed wrappers of the
// broker's RPCs. Each retries what a later attempt can cure — UNAVAILABLE,
// RESOURCE_EXHAUSTED and ABORTED — after the broker's requested delay
// (RetryInfo or retry-after) or a jittered exponential backoff, and never
// past the context's deadline, or the client's timeout (WithTimeout) when
// the context has none. An issue keeps its idempotency key across retries,
// so a retry after a lost answer gets the same lease back instead of a
// second token. Failures are *StatusError, whose text is the status in
// words and the broker's client-safe message; status.Code sees its code.
// Conn gives the connection itself, for any other RPC through the
// generated stubs with the same credentials and retries.
//
// # Token sources
//
// TokenSource is the loop every service would otherwise write. Its Token
// returns a token valid for at least MinValidity (a minute by default).
// In the background it renews the lease at a jittered half to seven
// tenths of the time the token may still be handed out, replaces the lease
// when renewal can no longer extend it (it reached its maximum TTL, or was
// revoked, or the API refused the token), revokes the old lease as soon as
// the new one is in place, and revokes the last one on Close. It holds one
// lease at a time, two only for the moment of a hand-over.
//
// When the broker is down, Token keeps returning the current token while
// it is valid for MinValidity, and then returns the failure at once rather
// than waiting; the source retries in the background and Token succeeds
// again with its next successful refresh. Changed tells a caller that
// keeps copies of the token (a file, a child process) when to look again.
//
// The cost of Token when the source holds a fresh token is one clock read
// and one atomic load, without allocating.
//
// # HTTP
//
// HTTPClient, or a Transport around your own RoundTripper, sends requests
// to the ZeroTier API with the source's token: a request with a path only
// goes to the lease's API base URL (New Central's root, or Legacy's
// .../api/v1, or the broker itself when it proxies the API), with the
// lease's Authorization scheme. A request to any other host is refused,
// so the token goes nowhere else. On a 401 the source replaces the lease
// and the request is sent once more, if its body can be replayed (GetBody
// is set, as http.NewRequest does for in-memory bodies); otherwise the
// 401 is returned and the next request uses the new token.
//
// # Secrets
//
// A Token's String, GoString and LogValue never show the secret; the
// client logs (WithLogger) lease ids and expiries only, and its errors
// never contain a credential.
//
// # Versioning
//
// The package is part of the github.com/ztbroker/ztbroker module and is
// versioned with it: a change that breaks its API takes a new major
// version of the module. It speaks the broker's ztbroker.v1 API, and
// imports nothing of the module but the generated stubs in gen/, so
// importing it links none of the server.
//
// # Limits
//
// If an issue's answer is lost and the broker cannot replay it (it runs
// without an idempotency seal key, or the replay window passed), the
// lease issued for it is out of the source's reach and lasts until its
// TTL ends; the source issues another with a new key. Closing a source
// while such an answer is outstanding leaves the same.
package client
