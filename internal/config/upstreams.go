package config

import "time"

// Upstreams are the ZeroTier APIs the broker mints on, each named: any
// number of each kind, so that one broker serves several organisations.
// Purposes may only use configured ones.
type Upstreams []Upstream

// Upstream is one named ZeroTier API account: its kind says which of
// NewCentral and Legacy holds its settings.
type Upstream struct {
	// Name is what purposes, leases, metrics and audit events call it:
	// 1-63 of [a-z0-9_-]. Leases record it, so renaming an upstream that
	// still has live leases leaves them unrevocable until it is restored.
	Name string `json:"name"`
	// Kind is new_central or legacy.
	Kind string `json:"kind"`
	// NewCentral holds the settings of a new_central upstream, written
	// beside name and kind.
	NewCentral *NewCentral `json:"-" refkind:"new_central"`
	// Legacy holds the settings of a legacy upstream, written beside name
	// and kind.
	Legacy *Legacy `json:"-" refkind:"legacy"`
	// Path is where the upstream was written, for errors:
	// "upstreams[0]", or "upstreams.new_central" in the older form.
	Path string `json:"-"`
}

// Upstream returns the upstream called name, nil when there is none.
func (c *Config) Upstream(name string) *Upstream {
	for i := range c.Upstreams {
		if name != "" && c.Upstreams[i].Name == name {
			return &c.Upstreams[i]
		}
	}
	return nil
}

// RateLimit is the upstream's requests per second.
func (u *Upstream) RateLimit() float64 {
	switch {
	case u.NewCentral != nil:
		return u.NewCentral.RateLimit
	case u.Legacy != nil:
		return u.Legacy.RateLimit
	}
	return 0
}

// BaseURL is the upstream's API base URL.
func (u *Upstream) BaseURL() string {
	switch {
	case u.NewCentral != nil:
		return u.NewCentral.BaseURL
	case u.Legacy != nil:
		return u.Legacy.BaseURL
	}
	return ""
}

// NewCentral is the New Central (v2) API, minting API keys on service
// accounts.
type NewCentral struct {
	// BaseURL defaults to https://central.zerotier.com.
	BaseURL string `json:"base_url"`
	// AllowHTTP permits a plain-http BaseURL on a non-loopback host, for
	// an emulator on a private network (docker-compose). Never for
	// ZeroTier itself: the admin credential would cross the wire in clear.
	AllowHTTP bool `json:"allow_http"`
	// AdminKeyEnv or AdminKeyFile holds the admin API key the broker mints
	// with (an environment variable, or a file); one is required.
	AdminKeyEnv  string `json:"admin_key_env"`
	AdminKeyFile string `json:"admin_key_file"`
	// RateLimit is requests per second; defaults to 100.
	RateLimit float64 `json:"rate_limit"`
	// Timeout bounds each call; defaults to 10s.
	Timeout time.Duration `json:"timeout"`
	// ExpirySkew is added to a lease's max expiry to get the key's own
	// upstream expiry; defaults to 5m.
	ExpirySkew time.Duration   `json:"expiry_skew"`
	Paths      NewCentralPaths `json:"paths"`

	// ServiceAccountID is where the purposes on this upstream that name
	// no service account of their own mint.
	ServiceAccountID string `json:"service_account_id"`

	// AdminKeyID is the admin key's id; empty means find it at start-up
	// among the keys of AdminServiceAccountID (or the purposes' service
	// accounts) as the one the broker is using.
	AdminKeyID string `json:"admin_key_id"`
	// AdminServiceAccountID is the service account holding the admin
	// key, where rotation mints its successor. Empty means the one of the
	// purposes' accounts it is found on.
	AdminServiceAccountID string `json:"admin_service_account_id"`
	// ExpiryWarning is how close to its expiry the admin key is reported
	// (log, readiness detail); default 7 days.
	ExpiryWarning time.Duration `json:"expiry_warning"`
	// ExpiryMinimum is the least lifetime the admin key must have left
	// for the broker to start, unless Rotate is set; default 1h.
	ExpiryMinimum time.Duration `json:"expiry_minimum"`
	// Rotate, when set, rotates the admin key before it expires.
	Rotate *Rotate `json:"rotate"`
	// CredentialPollInterval is how often each replica looks for an admin
	// key rotated by another; default 15s.
	CredentialPollInterval time.Duration `json:"credential_poll_interval"`
	// ForeignKeys is what reconciliation does with a key on the broker's
	// service accounts that the broker did not mint: alarm (default) or
	// delete.
	ForeignKeys string `json:"foreign_keys"`
	// OrgWatch reports new service accounts in the organisation.
	OrgWatch bool `json:"org_watch"`
	// OrgID is the organisation watched; empty means discover it.
	OrgID string `json:"org_id"`
	// MaxResponseBytes caps one response; default 64 MiB.
	MaxResponseBytes int64 `json:"max_response_bytes"`

	AdminKey Secret `json:"-"`
}

// Rotate configures the rotation of a New Central admin key.
type Rotate struct {
	// Before is how long before the key's expiry a new key is minted.
	Before time.Duration `json:"before"`
	// Lifetime is the new key's lifetime.
	Lifetime time.Duration `json:"lifetime"`
	// Grace is how long the old key keeps working after every replica
	// was told to switch; default 2m.
	Grace time.Duration `json:"grace"`
}

// What reconciliation does with a foreign credential.
const (
	ForeignKeysAlarm  = "alarm"
	ForeignKeysDelete = "delete"
)

// NewCentralPaths are path templates relative to BaseURL; {id} is the
// service account or key id. Empty means the client's default.
type NewCentralPaths struct {
	// CreateKey is POSTed to create an API key on a service account.
	CreateKey string `json:"create_key"`
	// DeleteKey is DELETEd to remove an API key.
	DeleteKey string `json:"delete_key"`
	// GetServiceAccount is read to list the account's keys (the
	// reconciler, and the cleanup after an ambiguous mint).
	GetServiceAccount string `json:"get_service_account"`
}

// Legacy is the Legacy Central (v1) API, minting user API tokens.
type Legacy struct {
	// BaseURL defaults to https://api.zerotier.com/api/v1.
	// AllowHTTP is as for NewCentral.
	AllowHTTP bool   `json:"allow_http"`
	BaseURL   string `json:"base_url"`
	// TokenEnv or TokenFile holds the user's API token the broker mints
	// with (an environment variable, or a file); one is required.
	TokenEnv  string `json:"token_env"`
	TokenFile string `json:"token_file"`
	// UserID is the user whose tokens are managed; empty means discover
	// it from the status endpoint at start-up.
	UserID string `json:"user_id"`
	// AuthScheme is how the broker presents its own token: token
	// (default) or bearer.
	AuthScheme string `json:"auth_scheme"`
	// RateLimit is requests per second; defaults to 20, the free plan's
	// limit, since a paid account's 100 cannot be assumed.
	RateLimit float64 `json:"rate_limit"`
	// Timeout bounds each call; defaults to 10s.
	Timeout time.Duration `json:"timeout"`
	Paths   LegacyPaths   `json:"paths"`

	// AdminTokenName is the admin token's name on the user; empty means
	// the user's only token that is not the broker's. Required with
	// foreign_keys: delete.
	AdminTokenName string `json:"admin_token_name"`
	// ForeignKeys is as for NewCentral, for tokens on the user.
	ForeignKeys string `json:"foreign_keys"`
	// MaxResponseBytes caps one response; default 64 MiB.
	MaxResponseBytes int64 `json:"max_response_bytes"`

	Token Secret `json:"-"`
}

// LegacyPaths are path templates relative to BaseURL; {id} is the user id
// and {name} the token name. Empty means the client's default.
type LegacyPaths struct {
	// Status is read to discover the user id when user_id is empty.
	Status string `json:"status"`
	// User is read to list the user's tokens (the reconciler, and the
	// cleanup after an ambiguous mint).
	User string `json:"user"`
	// CreateToken is POSTed to add a token to the user.
	CreateToken string `json:"create_token"`
	// DeleteToken is DELETEd to remove a token by name.
	DeleteToken string `json:"delete_token"`
}
