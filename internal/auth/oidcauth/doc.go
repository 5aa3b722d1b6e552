// Package oidcauth authenticates callers by OIDC/JWT bearer tokens from a
// fixed list of trusted issuers: GitHub Actions, GitLab CI, Kubernetes
// service accounts, or any other issuer configured by URL.
//
// Verification fails closed. The unverified "iss" claim is read only to
// pick the issuer's verifier; a token from any other issuer is rejected.
// Each token must then carry a valid signature from the issuer's published
// keys using one of the configured algorithms ("none" and HMAC are never
// accepted), the pinned audience, and an exp (and nbf, iat when present)
// that holds within a bounded clock skew.
//
// Keys come from the issuer's JWKS, found by discovery unless a JWKS URL is
// configured. They are cached; a token signed by an unknown key id causes
// a refetch, at most once per MinRefreshInterval per issuer, so issuer key
// rotation is picked up while a flood of made-up key ids cannot turn the
// broker into a traffic amplifier against the issuer. Discovery is lazy:
// an unreachable issuer at start-up makes only that issuer's callers fail
// (as unavailable, retryable) until it answers.
//
// The identity's Subject is "<issuer name>/<sub>", e.g.
// "github/repo:acme/infra:ref:refs/heads/main". Qualifying by issuer keeps
// two issuers that mint the same sub (two Kubernetes clusters both saying
// "system:serviceaccount:ci:deployer") from being one caller. Claims holds
// iss, sub and the issuer's kept claims, nothing else, so policy rules and
// the audit trail see a known, bounded set.
package oidcauth
