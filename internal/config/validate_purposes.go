package config

import (
	"fmt"
	"slices"
)

func (v *validator) purposes() {
	if len(v.c.Purposes) == 0 {
		v.add("purposes", "must list at least one purpose")
	}
	seen := map[string]bool{}
	for i := range v.c.Purposes {
		p := &v.c.Purposes[i]
		path := fmt.Sprintf("purposes[%d]", i)
		switch {
		case !namePattern.MatchString(p.Name):
			v.add(path+".name", "must be 1-63 of [a-z0-9-], not starting or ending with -, got %q", p.Name)
		case seen[p.Name]:
			v.add(path+".name", "duplicate purpose %q", p.Name)
		}
		seen[p.Name] = true
		v.ttls(path, p)
		v.purposeUpstream(path+".upstream", &p.Upstream)
		v.allow(path, p)
		v.quota(path+".quota", p.Quota)
		v.delivery(path, p)
	}
	v.proxyBudget()
}

func (v *validator) delivery(path string, p *Purpose) {
	switch p.Delivery {
	case DeliveryToken:
		if p.Scope != nil {
			v.add(path+".scope", "applies only to delivery: proxy; this purpose hands out ZeroTier tokens, which no scope can limit")
		}
		return
	case DeliveryProxy:
	default:
		v.add(path+".delivery", "must be token or proxy, got %q", p.Delivery)
		return
	}
	if p.Scope == nil {
		v.add(path+".scope", "is required for delivery: proxy (networks, members and rules saying what holders may do)")
		return
	}
	// The rules themselves are package scope's to check.
	if p.Scope.RateLimit < 0 {
		v.add(path+".scope.rate_limit", "must not be negative, got %g", p.Scope.RateLimit)
	}
	if p.Scope.Burst < 0 {
		v.add(path+".scope.burst", "must not be negative, got %d", p.Scope.Burst)
	}
}

// proxyBudget checks that the proxy purposes' shares of each upstream's
// rate limit fit in it, with room left for the broker's own calls.
func (v *validator) proxyBudget() {
	for _, u := range v.c.Upstreams {
		limit := u.RateLimit()
		sum, found := 0.0, false
		for _, p := range v.c.Purposes {
			if p.IsProxy() && p.Scope != nil && p.Upstream.Name == u.Name {
				sum += p.Scope.RateLimit
				found = true
			}
		}
		if found && limit > 0 && sum >= limit {
			v.add(u.Path+".rate_limit", "is %g requests/s, but the proxy purposes on it take %g: their scope.rate_limit shares must leave room for minting and revoking", limit, sum)
		}
	}
}

func (v *validator) ttls(path string, p *Purpose) {
	if p.DefaultTTL <= 0 {
		v.add(path+".default_ttl", "must be positive, got %s", p.DefaultTTL)
	}
	switch {
	case p.MaxTTL < p.DefaultTTL:
		v.add(path+".max_ttl", "must be at least default_ttl (%s)", p.DefaultTTL)
	case p.MaxTTL > MaxPurposeTTL:
		v.add(path+".max_ttl", "must be at most %s, got %s", MaxPurposeTTL, p.MaxTTL)
	}
	switch {
	case p.MinTTL < 0:
		v.add(path+".min_ttl", "must be positive, got %s", p.MinTTL)
	case p.DefaultTTL > 0 && p.MinTTL > p.DefaultTTL:
		v.add(path+".min_ttl", "must be at most default_ttl (%s)", p.DefaultTTL)
	}
	for j, r := range p.Allow.Rules {
		switch {
		case r.MaxTTL > p.MaxTTL:
			v.add(fmt.Sprintf("%s.allow.rules[%d].max_ttl", path, j), "must be at most the purpose's max_ttl (%s)", p.MaxTTL)
		case r.MaxTTL > 0 && r.MaxTTL < p.MinTTL:
			v.add(fmt.Sprintf("%s.allow.rules[%d].max_ttl", path, j), "must be at least the purpose's min_ttl (%s)", p.MinTTL)
		}
	}
}

func (v *validator) purposeUpstream(path string, pu *PurposeUpstream) {
	if pu.Kind != "" && pu.Kind != UpstreamNewCentral && pu.Kind != UpstreamLegacy {
		v.add(path+".kind", "must be new_central or legacy, got %q", pu.Kind)
		return
	}
	if pu.Name == "" {
		switch m := v.c.upstreamsOfKind(pu.Kind); {
		case pu.Kind != "" && len(m) == 0:
			v.add(path+".kind", "is %s but no %s upstream is configured: add one under upstreams", pu.Kind, pu.Kind)
		case len(m) == 0:
			v.add(path, "no upstream is configured: add one under upstreams")
		default:
			v.add(path+".name", "is required when several upstreams are configured: name one of %s", upstreamNames(upstreamsOf(m)))
		}
		return
	}
	u := v.c.Upstream(pu.Name)
	if u == nil {
		v.add(path+".name", "upstream %q is not configured (upstreams: %s)", pu.Name, upstreamNames(v.c.Upstreams))
		return
	}
	if pu.Kind != u.Kind {
		v.add(path+".kind", "is %q but upstream %s is %s", pu.Kind, u.Name, u.Kind)
		return
	}
	switch u.Kind {
	case UpstreamNewCentral:
		if pu.ServiceAccountID == "" {
			v.add(path+".service_account_id", "is required: upstream %s sets no service_account_id for its purposes", u.Name)
		}
	case UpstreamLegacy:
		if pu.ServiceAccountID != "" {
			v.add(path+".service_account_id", "applies only to new_central; legacy upstream %s mints on its user_id", u.Name)
		}
	}
}

func upstreamsOf(ps []*Upstream) Upstreams {
	out := make(Upstreams, 0, len(ps))
	for _, u := range ps {
		out = append(out, *u)
	}
	return out
}

func (v *validator) allow(path string, p *Purpose) {
	a := &p.Allow
	if len(a.APIKeys) == 0 && len(a.Subjects) == 0 && len(a.Rules) == 0 {
		v.add(path+".allow", "admits no one: list api_keys, subjects or rules")
		return
	}
	for j, k := range a.APIKeys {
		if !slices.ContainsFunc(v.c.Auth.APIKeys, func(c APIKey) bool { return c.Name == k }) {
			v.add(fmt.Sprintf("%s.allow.api_keys[%d]", path, j), "api key %q is not configured in auth.api_keys", k)
		}
	}
}

func (v *validator) quota(path string, q Quota) {
	for _, f := range []struct {
		name string
		n    int
	}{
		{"max_active", q.MaxActive},
		{"max_active_per_caller", q.MaxActivePerCaller},
		{"max_issues_per_minute", q.MaxIssuesPerMinute},
	} {
		if f.n < 0 {
			v.add(path+"."+f.name, "must not be negative (0 means unlimited), got %d", f.n)
		}
	}
	if q.MaxActive > 0 && q.MaxActivePerCaller > q.MaxActive {
		v.add(path+".max_active_per_caller", "must not exceed max_active (%d)", q.MaxActive)
	}
}
