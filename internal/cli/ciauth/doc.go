// Package ciauth yields the bearer credential a broker client presents: a
// static API key, or a workload identity token from the CI system or the
// platform the client runs on.
//
// Workload tokens are short-lived and rotate, so a Source is asked again
// for every call instead of once per process: a file is re-read each time
// (Kubernetes projected tokens are rewritten in place) and a GitHub Actions
// ID token is fetched again shortly before it expires. A long `broker exec`
// that renews its lease hours later therefore still presents a valid token.
package ciauth
