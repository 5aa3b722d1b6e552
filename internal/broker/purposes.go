package broker

import (
	"fmt"
	"sort"
	"time"

	"github.com/ztbroker/ztbroker/internal/auth"
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
	// Quota is nil when the purpose has no limits.
	Quota *store.Quota
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
