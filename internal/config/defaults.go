package config

import (
	"math"
	"strings"
	"time"
)

// Defaults. Zero or absent values in the file take these.
const (
	DefaultGRPCAddr     = "127.0.0.1:9090"
	DefaultHTTPAddr     = "127.0.0.1:8080"
	DefaultMaxBodyBytes = 1 << 20
	DefaultMaxConns     = 10

	DefaultNewCentralBaseURL   = "https://central.zerotier.com"
	DefaultNewCentralRateLimit = 100
	DefaultLegacyBaseURL       = "https://api.zerotier.com/api/v1"
	DefaultLegacyRateLimit     = 20
	DefaultUpstreamTimeout     = 10 * time.Second
	DefaultExpirySkew          = 5 * time.Minute
	DefaultExpiryWarning       = 7 * 24 * time.Hour
	DefaultExpiryMinimum       = time.Hour
	DefaultRotateGrace         = 2 * time.Minute
	DefaultCredentialPoll      = 15 * time.Second
	DefaultMaxResponseBytes    = 64 << 20

	DefaultTTL    = 15 * time.Minute
	DefaultMaxTTL = time.Hour
	DefaultMinTTL = 10 * time.Second

	DefaultClockSkew = 60 * time.Second

	DefaultReplayWindow = 10 * time.Minute

	DefaultProxyMaxBodyBytes      = 64 << 10
	DefaultProxyMaxResponseBytes  = 16 << 20
	DefaultProxyReadAuditInterval = time.Minute
	DefaultNamePrefix             = "ztbroker"
)

// Workers defaults.
const (
	DefaultRevokeBatchSize           = 50
	DefaultRevokeMaxAttempts         = 10
	DefaultRevokeBackoffBase         = time.Second
	DefaultRevokeBackoffMax          = 5 * time.Minute
	DefaultRevokeFailedRetryInterval = time.Hour
	DefaultPendingTimeout            = 2 * time.Minute
	DefaultReconcileInterval         = 10 * time.Minute
	DefaultClaimTimeout              = time.Minute
)

// Retention defaults and bounds.
const (
	DefaultLeaseRetention    = 30 * 24 * time.Hour
	DefaultAuditRetention    = 400 * 24 * time.Hour
	DefaultRetentionInterval = time.Minute
	DefaultRetentionBatch    = 500
	// MinAuditRetention is a month and a day: the current month and the
	// last one always stay. The store refuses anything shorter too.
	MinAuditRetention = 31 * 24 * time.Hour
	// MinLeaseRetention keeps an ended lease at least as long as anything
	// still looks it up by its own right: GetLease right after a revoke,
	// and the issue-rate quota's minute.
	MinLeaseRetention = time.Hour
)

func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

func (c *Config) applyDefaults() {
	orDefault(&c.Listen.GRPCAddr, DefaultGRPCAddr)
	orDefault(&c.Listen.HTTPAddr, DefaultHTTPAddr)
	orDefault(&c.Listen.MaxBodyBytes, DefaultMaxBodyBytes)
	c.Listen.Limits.applyDefaults()
	if t := c.Listen.TLS; t != nil {
		orDefault(&t.ClientAuth, ClientAuthNone)
	}
	orDefault(&c.Database.MaxConns, DefaultMaxConns)
	orDefault(&c.Database.Migrations, MigrationsApply)
	orDefault(&c.Log.Format, "json")
	orDefault(&c.Log.Level, "info")

	for i := range c.Upstreams {
		c.Upstreams[i].applyDefaults()
	}
	c.purposeUpstreams()

	for i := range c.Purposes {
		p := &c.Purposes[i]
		orDefault(&p.DefaultTTL, DefaultTTL)
		orDefault(&p.MaxTTL, max(DefaultMaxTTL, p.DefaultTTL))
		if p.MinTTL == 0 {
			// A purpose whose default is shorter keeps its default
			// reachable.
			p.MinTTL = DefaultMinTTL
			if p.DefaultTTL > 0 && p.DefaultTTL < p.MinTTL {
				p.MinTTL = p.DefaultTTL
			}
		}
		orDefault(&p.Delivery, DeliveryToken)
	}

	if o := c.Auth.OIDC; o != nil {
		orDefault(&o.ClockSkew, DefaultClockSkew)
		for i := range o.Issuers {
			orDefault(&o.Issuers[i].Name, o.Issuers[i].Preset)
		}
	}
	w := &c.Workers
	orDefault(&w.RevokeBatchSize, DefaultRevokeBatchSize)
	orDefault(&w.RevokeMaxAttempts, DefaultRevokeMaxAttempts)
	orDefault(&w.RevokeBackoffBase, DefaultRevokeBackoffBase)
	orDefault(&w.RevokeBackoffMax, DefaultRevokeBackoffMax)
	orDefault(&w.RevokeFailedRetryInterval, DefaultRevokeFailedRetryInterval)
	orDefault(&w.PendingTimeout, DefaultPendingTimeout)
	orDefault(&w.ReconcileInterval, DefaultReconcileInterval)
	orDefault(&w.ClaimTimeout, DefaultClaimTimeout)

	orDefault(&c.Idempotency.ReplayWindow, DefaultReplayWindow)
	orDefault(&c.Retention.Leases, DefaultLeaseRetention)
	orDefault(&c.Retention.Audit, DefaultAuditRetention)
	orDefault(&c.Retention.Interval, DefaultRetentionInterval)
	orDefault(&c.Retention.BatchSize, DefaultRetentionBatch)
	orDefault(&c.Proxy.MaxBodyBytes, DefaultProxyMaxBodyBytes)
	orDefault(&c.Proxy.MaxResponseBytes, DefaultProxyMaxResponseBytes)
	orDefault(&c.Proxy.ReadAuditInterval, DefaultProxyReadAuditInterval)
	c.Proxy.PublicURL = strings.TrimRight(c.Proxy.PublicURL, "/")
	c.proxyShares()
	orDefault(&c.Tokens.NamePrefix, DefaultNamePrefix)
	c.applyAbuseDefaults()
}

func (u *Upstream) applyDefaults() {
	if nc := u.NewCentral; nc != nil {
		orDefault(&nc.BaseURL, DefaultNewCentralBaseURL)
		orDefault(&nc.RateLimit, DefaultNewCentralRateLimit)
		orDefault(&nc.Timeout, DefaultUpstreamTimeout)
		orDefault(&nc.ExpirySkew, DefaultExpirySkew)
		orDefault(&nc.ExpiryWarning, DefaultExpiryWarning)
		orDefault(&nc.ExpiryMinimum, DefaultExpiryMinimum)
		orDefault(&nc.CredentialPollInterval, DefaultCredentialPoll)
		orDefault(&nc.ForeignKeys, ForeignKeysAlarm)
		orDefault(&nc.MaxResponseBytes, DefaultMaxResponseBytes)
		if r := nc.Rotate; r != nil {
			orDefault(&r.Grace, DefaultRotateGrace)
		}
	}
	if l := u.Legacy; l != nil {
		orDefault(&l.BaseURL, DefaultLegacyBaseURL)
		orDefault(&l.AuthScheme, "token")
		orDefault(&l.RateLimit, DefaultLegacyRateLimit)
		orDefault(&l.Timeout, DefaultUpstreamTimeout)
		orDefault(&l.ForeignKeys, ForeignKeysAlarm)
		orDefault(&l.MaxResponseBytes, DefaultMaxResponseBytes)
	}
}

// purposeUpstreams fills in what a purpose's upstream leaves out when
// the configuration makes it unambiguous: the name when exactly one
// upstream (of the kind given, if one is) exists, the kind from the named
// upstream, and a New Central upstream's default service account. What
// stays ambiguous is left empty for validation to report.
func (c *Config) purposeUpstreams() {
	for i := range c.Purposes {
		pu := &c.Purposes[i].Upstream
		if pu.Name == "" {
			if m := c.upstreamsOfKind(pu.Kind); len(m) == 1 {
				pu.Name = m[0].Name
			}
		}
		u := c.Upstream(pu.Name)
		if u == nil {
			continue
		}
		orDefault(&pu.Kind, u.Kind)
		if u.NewCentral != nil && pu.Kind == u.Kind {
			orDefault(&pu.ServiceAccountID, u.NewCentral.ServiceAccountID)
		}
	}
}

// upstreamsOfKind returns the upstreams of kind, or all when kind is empty.
func (c *Config) upstreamsOfKind(kind string) []*Upstream {
	var out []*Upstream
	for i := range c.Upstreams {
		if kind == "" || c.Upstreams[i].Kind == kind {
			out = append(out, &c.Upstreams[i])
		}
	}
	return out
}

// proxyShares gives each proxy purpose without an explicit rate_limit an
// equal share of what its upstream's rate limit leaves after the explicit
// ones, keeping one share back for the broker's own minting and revoking.
// A purpose's share never exceeds what is left; validation reports a
// configuration whose explicit shares take everything.
func (c *Config) proxyShares() {
	for _, u := range c.Upstreams {
		limit := u.RateLimit()
		if limit <= 0 {
			continue
		}
		explicit, unset := 0.0, 0
		for i := range c.Purposes {
			p := &c.Purposes[i]
			if !p.IsProxy() || p.Scope == nil || p.Upstream.Name != u.Name {
				continue
			}
			if p.Scope.RateLimit > 0 {
				explicit += p.Scope.RateLimit
			} else {
				unset++
			}
		}
		share := (limit - explicit) / float64(unset+1)
		for i := range c.Purposes {
			p := &c.Purposes[i]
			if !p.IsProxy() || p.Scope == nil || p.Upstream.Name != u.Name {
				continue
			}
			if p.Scope.RateLimit == 0 && share > 0 {
				p.Scope.RateLimit = share
			}
			if p.Scope.Burst == 0 && p.Scope.RateLimit > 0 {
				p.Scope.Burst = max(1, int(math.Ceil(p.Scope.RateLimit)))
			}
		}
	}
}
