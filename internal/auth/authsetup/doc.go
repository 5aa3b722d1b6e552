// Package authsetup builds the broker's caller authentication from the
// loaded config: the credential chain (API keys, then OIDC, then client
// certificates) and the reloading server TLS config that client
// certificates arrive through. It is the one place that maps config
// fields onto the authenticators, so the server wiring stays a call.
package authsetup
