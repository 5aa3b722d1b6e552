package server

import (
	"fmt"
	"time"

	"github.com/ztbroker/ztbroker/internal/broker"
	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/policy"
	"github.com/ztbroker/ztbroker/internal/proxy"
	"github.com/ztbroker/ztbroker/internal/store"
)

// CompilePolicy compiles a purpose's allow section. LoadConfig has already
// reported any problem with it at its field; this is for its users.
func CompilePolicy(p config.Purpose) (*policy.Policy, error) {
	pol, err := policy.Compile(p.Name, policySpec(p.Allow))
	if err != nil {
		return nil, fmt.Errorf("purpose %q: %w", p.Name, err)
	}
	return pol, nil
}

func policySpec(a config.Allow) policy.Spec {
	s := policy.Spec{APIKeys: a.APIKeys, Subjects: a.Subjects}
	for _, r := range a.Rules {
		s.Rules = append(s.Rules, policy.RuleSpec{Name: r.Name, Expr: r.Expr, MaxTTL: r.MaxTTL})
	}
	return s
}

func buildPurposes(cfg *config.Config, is *upstreams, publicURL string) (*broker.Purposes, error) {
	var ps []*broker.Purpose
	for _, p := range cfg.Purposes {
		u, iss, err := is.forPurpose(p)
		if err != nil {
			return nil, err
		}
		pol, err := CompilePolicy(p)
		if err != nil {
			return nil, err
		}
		bp := &broker.Purpose{
			Name:        p.Name,
			Description: p.Description,
			DefaultTTL:  p.DefaultTTL,
			MaxTTL:      p.MaxTTL,
			MinTTL:      p.MinTTL,
			Issuer:      iss,
			Policy:      pol,
			ExpirySkew:  u.expirySkew,
			Delivery:    p.Delivery,
		}
		if p.IsProxy() {
			bp.ProxyBaseURL = proxy.BaseURL(publicURL, p.Name, ScopeAPI(p))
			bp.ProxyAuthScheme = proxyAuthScheme(u.kind)
		}
		if !p.Quota.IsZero() {
			bp.Quota = &store.Quota{
				MaxActivePerPurpose: p.Quota.MaxActive,
				MaxActivePerOwner:   p.Quota.MaxActivePerCaller,
				MaxIssuesPerWindow:  p.Quota.MaxIssuesPerMinute,
				Window:              time.Minute,
			}
		}
		ps = append(ps, bp)
	}
	return broker.NewPurposes(ps, is.issuers()...)
}
