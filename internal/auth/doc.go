// Package auth turns the credentials a caller presented (a bearer token or
// a verified client certificate) into one Identity that flows on to
// policy, leases and audit. Each credential source is an Authenticator;
// the gRPC interceptor and the HTTP middleware share them.
package auth
