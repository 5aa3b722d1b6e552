package upstream

// Registry finds the Issuer for an upstream account. Leases record the
// upstream's name and the account they were minted on, so revocation
// reaches the same account of the same upstream even after the purpose
// that minted them is reconfigured, and two organisations' accounts never
// stand in for each other.
type Registry struct {
	issuers map[registryKey]Issuer
}

type registryKey struct{ upstream, account string }

// NewRegistry indexes issuers by upstream name and account.
func NewRegistry(issuers ...Issuer) *Registry {
	r := &Registry{issuers: make(map[registryKey]Issuer, len(issuers))}
	for _, is := range issuers {
		r.issuers[registryKey{is.Upstream(), is.Account()}] = is
	}
	return r
}

// Issuer returns the issuer for account on the upstream called name.
func (r *Registry) Issuer(name, account string) (Issuer, bool) {
	is, ok := r.issuers[registryKey{name, account}]
	return is, ok
}

// All returns every issuer, in no particular order.
func (r *Registry) All() []Issuer {
	out := make([]Issuer, 0, len(r.issuers))
	for _, is := range r.issuers {
		out = append(out, is)
	}
	return out
}
