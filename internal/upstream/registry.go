package upstream

// Registry finds the Issuer for an upstream account. Leases record the
// upstream kind and account they were minted on, so revocation reaches the
// same account even after the purpose that minted them is reconfigured.
type Registry struct {
	issuers map[registryKey]Issuer
}

type registryKey struct{ kind, account string }

// NewRegistry indexes issuers by kind and account.
func NewRegistry(issuers ...Issuer) *Registry {
	r := &Registry{issuers: make(map[registryKey]Issuer, len(issuers))}
	for _, is := range issuers {
		r.issuers[registryKey{is.Kind(), is.Account()}] = is
	}
	return r
}

// Issuer returns the issuer for kind and account.
func (r *Registry) Issuer(kind, account string) (Issuer, bool) {
	is, ok := r.issuers[registryKey{kind, account}]
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
