package lease

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// State is where a lease is in its lifecycle.
type State string

const (
	StatePending      State = "pending"
	StateActive       State = "active"
	StateRevoking     State = "revoking"
	StateRevoked      State = "revoked"
	StateFailed       State = "failed"
	StateRevokeFailed State = "revoke_failed"
)

// Valid reports whether s is one of the known states.
func (s State) Valid() bool {
	switch s {
	case StatePending, StateActive, StateRevoking, StateRevoked, StateFailed, StateRevokeFailed:
		return true
	}
	return false
}

// Live reports whether a lease in state s may still have a token upstream.
func (s State) Live() bool {
	switch s {
	case StatePending, StateActive, StateRevoking, StateRevokeFailed:
		return true
	}
	return false
}

// Ended reports whether the lease is over from the caller's point of view.
func (s State) Ended() bool { return !(s == StatePending || s == StateActive) }

// Upstream kinds.
const (
	UpstreamNewCentral = "new_central"
	UpstreamLegacy     = "legacy"
)

// Deliveries: what IssueToken hands the caller.
const (
	// DeliveryToken hands out the upstream token itself.
	DeliveryToken = "token"
	// DeliveryProxy hands out a broker credential that works only through
	// the broker's scoped proxy; no upstream token exists for the lease.
	DeliveryProxy = "proxy"
)

// Revoke reasons the broker itself records.
const (
	ReasonExpired    = "expired"
	ReasonMintFailed = "mint_failed"
	ReasonCrashed    = "mint_interrupted"
	ReasonForgotten  = "forgotten"
)

// Lease is one minted upstream token's record. It never holds the secret.
type Lease struct {
	ID      string
	Purpose string
	// Owner is the caller identity, "<kind>:<subject>".
	Owner  string
	State  State
	Labels map[string]string

	// Delivery is DeliveryToken or DeliveryProxy. A proxy lease has no
	// upstream token: TokenSHA256 is the hash of its broker credential and
	// UpstreamTokenID and UpstreamName are empty.
	Delivery string

	// Upstream is the configured name of the upstream that minted the
	// token (or, for a proxy lease, that its calls go to): revocation goes
	// there, whatever the purpose says today. UpstreamKind is its API,
	// UpstreamNewCentral or UpstreamLegacy; UpstreamAccount is the New
	// Central service account id or the Legacy user id. Leases from before
	// upstreams had names hold the kind as the name, which is the name the
	// older configuration form gives each upstream.
	Upstream        string
	UpstreamKind    string
	UpstreamAccount string
	// UpstreamTokenID is the New Central key id or the Legacy token name.
	UpstreamTokenID string
	// UpstreamName is the name or description the broker gave the token.
	UpstreamName string
	// UpstreamExpireTime is the upstream's own expiry, zero for Legacy.
	UpstreamExpireTime time.Time
	// TokenSHA256 is the lowercase hex SHA-256 of the secret: the upstream
	// token, or for a proxy lease the broker credential.
	TokenSHA256 string

	IssueTime     time.Time
	ExpireTime    time.Time
	MaxExpireTime time.Time

	RevokeReason string
	RevokedBy    string
	RevokeTime   time.Time

	RevokeAttempts int
	NextAttemptAt  time.Time
	LastError      string

	IdempotencyKey string

	// AdmittedBy names what admitted the caller at issue: "api_keys",
	// "subjects" or a rule's name. Empty for leases issued before it was
	// recorded.
	AdmittedBy string
	// GrantedMaxTTL is the longest the admission let the lease run from
	// its creation (the purpose's max_ttl, or the admitting rule's when
	// lower); zero when not recorded.
	GrantedMaxTTL time.Duration
	// RequestedTTL is the TTL the issue request asked for, zero when it
	// asked for the purpose's default. A replay must ask for the same.
	RequestedTTL time.Duration
	// OwnerClaims are the claim values Owner was built from (OIDC
	// callers); nil for other callers.
	OwnerClaims map[string]string

	CreatedAt time.Time
	UpdatedAt time.Time
}

// HashToken returns the lowercase hex SHA-256 of a secret, the only form in
// which the broker keeps it.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// IsProxy reports whether the lease hands out a broker credential rather
// than an upstream token.
func (l *Lease) IsProxy() bool { return l.Delivery == DeliveryProxy }
