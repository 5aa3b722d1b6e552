package broker

import (
	"fmt"
	"sort"
	"time"

	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/policy"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/upstream"
)

// Policy decides who may request a purpose; *policy.Policy is one.
type Policy interface {
	Decide(id *auth.Identity) policy.Decision
}

// Purpose is a named kind of token callers can ask for.
type Purpose struct {
	Name        string
	Description string
	DefaultTTL  time.Duration
	MaxTTL      time.Duration
	// MinTTL is the shortest TTL a caller may ask for.
	MinTTL time.Duration
	Issuer upstream.Issuer
	Policy Policy
	// ExpirySkew is added to a New Central lease's max expiry to get its
	// key's upstream expiry; zero means the service's.
	ExpirySkew time.Duration
	// Quota is nil when the purpose has no limits.
	Quota *store.Quota
	// Delivery is lease.DeliveryToken (the default when empty) or
	// lease.DeliveryProxy. A proxy purpose hands out a broker credential
	// for ProxyBaseURL, used with ProxyAuthScheme, and mints nothing
	// upstream; Issuer is still the upstream its calls are forwarded to.
	Delivery        string
	ProxyBaseURL    string
	ProxyAuthScheme string
}

// IsProxy reports whether the purpose hands out broker credentials.
func (p *Purpose) IsProxy() bool { return p.Delivery == lease.DeliveryProxy }

// delivery is what the lease records.
func (p *Purpose) delivery() string {
	if p.IsProxy() {
		return lease.DeliveryProxy
	}
	return lease.DeliveryToken
}

// apiBaseURL and authScheme tell a caller where and how to use what it
// was issued.
func (p *Purpose) apiBaseURL() string {
	if p.IsProxy() {
		return p.ProxyBaseURL
	}
	return p.Issuer.APIBaseURL()
}

func (p *Purpose) authScheme() string {
	if p.IsProxy() {
		return p.ProxyAuthScheme
	}
	return p.Issuer.AuthScheme()
}

// Purposes is the validated, immutable set of purposes.
type Purposes struct {
	byName   map[string]*Purpose
	sorted   []*Purpose
	registry *upstream.Registry
}

// NewPurposes indexes ps. Extra issuers stay reachable for revoking leases
// minted on accounts no purpose uses any more.
func NewPurposes(ps []*Purpose, extra ...upstream.Issuer) (*Purposes, error) {
	out := &Purposes{byName: make(map[string]*Purpose, len(ps))}
	issuers := append([]upstream.Issuer(nil), extra...)
	for _, p := range ps {
		switch {
		case p.Name == "":
			return nil, fmt.Errorf("purpose with empty name")
		case out.byName[p.Name] != nil:
			return nil, fmt.Errorf("purpose %q defined twice", p.Name)
		case p.Issuer == nil || p.Policy == nil:
			return nil, fmt.Errorf("purpose %q needs an issuer and a policy", p.Name)
		case p.IsProxy() && (p.ProxyBaseURL == "" || p.ProxyAuthScheme == ""):
			return nil, fmt.Errorf("purpose %q delivers by proxy but has no proxy URL and scheme", p.Name)
		case p.Delivery != "" && p.Delivery != lease.DeliveryToken && !p.IsProxy():
			return nil, fmt.Errorf("purpose %q: unknown delivery %q", p.Name, p.Delivery)
		}
		out.byName[p.Name] = p
		out.sorted = append(out.sorted, p)
		issuers = append(issuers, p.Issuer)
	}
	sort.Slice(out.sorted, func(i, j int) bool { return out.sorted[i].Name < out.sorted[j].Name })
	out.registry = upstream.NewRegistry(issuers...)
	return out, nil
}

// Get returns the purpose called name.
func (ps *Purposes) Get(name string) (*Purpose, bool) {
	p, ok := ps.byName[name]
	return p, ok
}

// All returns every purpose sorted by name.
func (ps *Purposes) All() []*Purpose { return ps.sorted }

// Registry holds every issuer the purposes use.
func (ps *Purposes) Registry() *upstream.Registry { return ps.registry }
