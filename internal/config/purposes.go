package config

import "time"

// Upstream kinds, as written in purposes[].upstream.kind.
const (
	UpstreamNewCentral = "new_central"
	UpstreamLegacy     = "legacy"
)

// Purpose is a named kind of token callers may ask for.
type Purpose struct {
	// Name is [a-z0-9-], unique; it is part of every upstream token name.
	Name string `json:"name"`
	// Description is shown to callers by ListPurposes.
	Description string `json:"description"`
	// DefaultTTL defaults to 15m; MaxTTL defaults to 1h, or DefaultTTL
	// when that is longer.
	DefaultTTL time.Duration `json:"default_ttl"`
	MaxTTL     time.Duration `json:"max_ttl"`
	// MinTTL is the shortest TTL a caller may ask for, at issue or
	// renewal; defaults to 10s. A token minted for a nanosecond is only
	// churn upstream.
	MinTTL   time.Duration   `json:"min_ttl"`
	Upstream PurposeUpstream `json:"upstream"`
	Allow    Allow           `json:"allow"`
	Quota    Quota           `json:"quota"`
	// Delivery is token (the default: the caller gets a ZeroTier token)
	// or proxy (the caller gets a broker credential that works only
	// through the broker's proxy, within Scope).
	Delivery string `json:"delivery"`
	// Scope says what a proxy purpose's holders may do; required for,
	// and only for, delivery proxy.
	Scope *Scope `json:"scope"`
}

// Deliveries, as written in purposes[].delivery.
const (
	DeliveryToken = "token"
	DeliveryProxy = "proxy"
)

// IsProxy reports whether the purpose hands out proxy credentials.
func (p *Purpose) IsProxy() bool { return p.Delivery == DeliveryProxy }

// Scope is a proxy purpose's allowlists, rules and share of the upstream
// rate limit; see package scope.
type Scope struct {
	// Networks and Members list the network and member ids the
	// scope's rules may touch; empty means any.
	Networks []string    `json:"networks"`
	Members  []string    `json:"members"`
	Rules    []ScopeRule `json:"rules"`
	// RateLimit is this purpose's share of its upstream's requests per
	// second; defaults to an equal share of what the upstream's limit
	// leaves after explicit shares, one share kept back for the broker's
	// own minting and revoking. Burst defaults to the rate, at least 1.
	RateLimit float64 `json:"rate_limit"`
	Burst     int     `json:"burst"`
}

// ScopeRule allows operations, optionally under a CEL condition.
type ScopeRule struct {
	// Name identifies the rule in proxy audit events and denials.
	Name string `json:"name"`
	// Operations are "METHOD /path" patterns from the catalogue of
	// Central operations ({network}, {member} stand for ids).
	Operations []string `json:"operations"`
	// When is a CEL condition on the call (its body, the lease's labels)
	// that must also hold; empty means always.
	When string `json:"when"`
	// Query lists the query parameters the operations may carry.
	Query []string `json:"query"`
}

// PurposeUpstream says which upstream, and which account on it, mints
// this purpose's tokens. In YAML it is either the upstream's name alone
// (`upstream: prod`) or a mapping.
type PurposeUpstream struct {
	// Name is the upstream's name. It may be left out when exactly one
	// upstream is configured, or when Kind picks exactly one; validation
	// fills it in.
	Name string `json:"name"`
	// Kind is new_central or legacy: optional, and when given it must be
	// the named upstream's kind. Validation fills it in.
	Kind string `json:"kind"`
	// ServiceAccountID is the New Central service account; it defaults
	// to the upstream's service_account_id.
	ServiceAccountID string `json:"service_account_id"`
}

// Account returns the upstream account the purpose mints on: the service
// account id, or the configured legacy user id (empty when discovered at
// start-up).
func (p *Purpose) Account(c *Config) string {
	if u := c.Upstream(p.Upstream.Name); u != nil && u.Legacy != nil {
		return u.Legacy.UserID
	}
	return p.Upstream.ServiceAccountID
}

// Allow lists who may issue for the purpose; see package policy.
type Allow struct {
	// APIKeys are names from auth.api_keys admitted as they are.
	APIKeys []string `json:"api_keys"`
	// Subjects are owners, "<kind>:<subject>", admitted as they are.
	Subjects []string `json:"subjects"`
	Rules    []Rule   `json:"rules"`
}

// Rule is one CEL admission rule.
type Rule struct {
	// Name identifies the rule in decisions, audit events and leases'
	// admitted_by.
	Name string `json:"name"`
	// Expr is the CEL expression over the caller's kind, subject and
	// kept claims; true admits.
	Expr string `json:"expr"`
	// MaxTTL caps leases this rule admits; zero means the purpose's.
	MaxTTL time.Duration `json:"max_ttl"`
}

// Quota limits a purpose. Zero means unlimited.
type Quota struct {
	// MaxActive bounds the purpose's live leases across all callers.
	MaxActive int `json:"max_active"`
	// MaxActivePerCaller bounds one owner's live leases of the purpose.
	MaxActivePerCaller int `json:"max_active_per_caller"`
	// MaxIssuesPerMinute bounds issues of the purpose per minute.
	MaxIssuesPerMinute int `json:"max_issues_per_minute"`
}

// IsZero reports whether no limit is set.
func (q Quota) IsZero() bool { return q == Quota{} }
