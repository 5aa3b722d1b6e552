// Package credential yields the bearer credential a ztbroker client
// presents to the broker: a static API key, an API key kept in a file, or a
// workload identity (OIDC) token from the CI system or the platform the
// client runs on — GitHub Actions, an environment variable (GitLab CI's
// id_tokens), or a file (a Kubernetes projected service-account token).
//
// Credentials rotate, so a Source is asked again for every call instead of
// once per process: a file is re-read each time (the kubelet rewrites
// projected tokens in place, and a secret manager may rotate a key file),
// and a GitHub Actions ID token is fetched again shortly before it expires.
// A long-lived client that renews its lease hours later therefore still
// presents a valid credential.
//
// Errors wrap ErrUnauthenticated when no credential could be obtained and
// ErrUnavailable when a later attempt may succeed (the token endpoint
// failed or throttled). No error ever contains a credential.
//
// The broker's own client (package client) and the broker command line use
// these sources; they are public so that any Go program can.
package credential
