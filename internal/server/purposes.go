package server

import (
	"time"

	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/broker"
	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/policy"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/upstream"
)

// policyAdapter lets the broker ask a compiled policy without importing
// the policy package's types.
type policyAdapter struct{ p *policy.Policy }

func (a policyAdapter) Admit(id *auth.Identity) broker.Admission {
	d := a.p.Decide(id)
	return broker.Admission{Allowed: d.Allowed, Rule: d.Rule, MaxTTL: d.MaxTTL}
}

func buildPurposes(cfg *config.Config, is *issuers) (*broker.Purposes, error) {
	var ps []*broker.Purpose
	for _, p := range cfg.Purposes {
		iss, err := is.forPurpose(p)
		if err != nil {
			return nil, err
		}
		bp := &broker.Purpose{
			Name:        p.Name,
			Description: p.Description,
			DefaultTTL:  p.DefaultTTL,
			MaxTTL:      p.MaxTTL,
			Issuer:      iss,
			Policy:      policyAdapter{p.Policy},
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
	var extra []upstream.Issuer
	for _, c := range is.newCentral {
		extra = append(extra, c)
	}
	if is.legacy != nil {
		extra = append(extra, is.legacy)
	}
	return broker.NewPurposes(ps, extra...)
}
