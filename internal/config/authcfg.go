package config

import "time"

// Auth configures how callers prove who they are.
type Auth struct {
	APIKeys []APIKey `json:"api_keys"`
	// Admins are owners, "<kind>:<subject>", that may use the admin API
	// and see every lease.
	Admins []string `json:"admins"`
	OIDC   *OIDC    `json:"oidc"`
	MTLS   MTLS     `json:"mtls"`
}

// APIKey is a static bearer key, given by its SHA-256 or read from the
// environment and hashed at load.
type APIKey struct {
	// Name is how purposes' allow.api_keys and owners ("api_key:<name>")
	// refer to the key.
	Name string `json:"name"`
	// SHA256 is the hex SHA-256 of the key.
	SHA256 string `json:"sha256"`
	// KeyEnv names a variable holding the key itself, hashed at load.
	KeyEnv string `json:"key_env"`

	// Hash is the lowercase hex SHA-256, from SHA256 or KeyEnv's value.
	// The key itself is not kept.
	Hash string `json:"-"`

	// keyLen is the length of KeyEnv's value, for the start-up warning
	// about short keys; zero when only the hash is known.
	keyLen int
}

// OIDC configures JWT bearer authentication.
type OIDC struct {
	// Audience is the aud every token must carry unless an issuer
	// overrides it.
	Audience string `json:"audience"`
	// ClockSkew is allowed on exp and nbf; defaults to 60s.
	ClockSkew time.Duration `json:"clock_skew"`
	// MaxTokenLifetime refuses tokens that expire further than this in
	// the future or live longer than this from their iat; defaults to 24h.
	MaxTokenLifetime time.Duration `json:"max_token_lifetime"`
	Issuers          []OIDCIssuer  `json:"issuers"`
}

// OIDCIssuer is one trusted token issuer.
type OIDCIssuer struct {
	// Name qualifies subjects from this issuer ("oidc:<name>/<sub>");
	// defaults to the preset. Renaming an issuer changes its callers'
	// owner strings.
	Name string `json:"name"`
	// Preset is github, gitlab, kubernetes, or empty for a generic issuer.
	Preset string `json:"preset"`
	// IssuerURL overrides the preset's (required for kubernetes and
	// generic issuers).
	IssuerURL string `json:"issuer_url"`
	// Audience overrides OIDC.Audience for this issuer.
	Audience string `json:"audience"`
	// ClaimsToKeep adds to the preset's claims; only kept claims reach
	// policy rules and the audit trail.
	ClaimsToKeep []string `json:"claims_to_keep"`
	// OwnerClaims replaces the preset's owner claims (github: sub and
	// job_workflow_ref; gitlab: project_path, ref and pipeline_source;
	// kubernetes and generic issuers: sub). Callers whose owner claims
	// are equal share leases and idempotency keys; changing the list
	// changes the owner of new leases, as renaming the issuer does.
	OwnerClaims []string `json:"owner_claims"`
	// SigningAlgs defaults to the preset's (RS256 for all three).
	SigningAlgs []string `json:"signing_algs"`
	// JWKSURL skips discovery and fetches keys from here.
	JWKSURL string `json:"jwks_url"`
	// CAFile verifies the issuer's HTTPS certificate instead of the
	// system roots (an in-cluster Kubernetes API server).
	CAFile string `json:"ca_file"`
}

// MTLS configures client-certificate authentication.
type MTLS struct {
	// Enabled needs listen.tls with a client_ca_file and client_auth
	// request or require.
	Enabled bool `json:"enabled"`
}
