package config

import (
	"fmt"
	"time"
)

// Audit bounds what the audit trail keeps of refused callers.
type Audit struct {
	// MaxClaimBytes cuts each kept claim value in an audit event and its
	// log line to this many bytes, with a marker; default 256.
	MaxClaimBytes int `json:"max_claim_bytes"`
	// RefusalEvents bounds the deny and quota_reject events one lease
	// owner adds to the trail; past it they are counted, and one summary
	// event per owner is written every SummaryInterval. Absent: 0.2 a
	// second with a burst of 20; per_second: 0 records every event.
	RefusalEvents *RateLimit `json:"refusal_events"`
	// SummaryInterval defaults to one minute.
	SummaryInterval time.Duration `json:"summary_interval"`
}

// Refusals bounds how often a caller may be refused (denied by policy or
// over quota) before its requests are turned away with
// RESOURCE_EXHAUSTED, before any policy or database work.
type Refusals struct {
	// PerOwner applies to each lease owner. Absent: 1 a second with a
	// burst of 30.
	PerOwner *RateLimit `json:"per_owner"`
	// PerAddress applies to each source address (the TCP peer; behind a
	// proxy, all callers share the proxy's). Absent: 10 a second with a
	// burst of 300.
	PerAddress *RateLimit `json:"per_address"`
}

// RateLimit is a token bucket. PerSecond 0 switches the limit off.
type RateLimit struct {
	// PerSecond is the bucket's refill rate; 0 switches the limit off.
	PerSecond float64 `json:"per_second"`
	// Burst is the bucket's size.
	Burst int `json:"burst"`
}

// Defaults for Audit and Refusals.
const (
	DefaultMaxAuditClaimBytes = 256
	DefaultSummaryInterval    = time.Minute
)

var (
	defaultRefusalEvents = RateLimit{PerSecond: 0.2, Burst: 20}
	defaultPerOwner      = RateLimit{PerSecond: 1, Burst: 30}
	defaultPerAddress    = RateLimit{PerSecond: 10, Burst: 300}
)

func (c *Config) applyAbuseDefaults() {
	orDefault(&c.Audit.MaxClaimBytes, DefaultMaxAuditClaimBytes)
	orDefault(&c.Audit.SummaryInterval, DefaultSummaryInterval)
	for _, r := range []struct {
		p   **RateLimit
		def RateLimit
	}{
		{&c.Audit.RefusalEvents, defaultRefusalEvents},
		{&c.Refusals.PerOwner, defaultPerOwner},
		{&c.Refusals.PerAddress, defaultPerAddress},
	} {
		if *r.p == nil {
			d := r.def
			*r.p = &d
		}
	}
}

func (v *validator) abuse() {
	a := &v.c.Audit
	if a.MaxClaimBytes < 16 || a.MaxClaimBytes > 64<<10 {
		v.add("audit.max_claim_bytes", "must be between 16 and 65536, got %d", a.MaxClaimBytes)
	}
	if a.SummaryInterval < time.Second || a.SummaryInterval > 24*time.Hour {
		v.add("audit.summary_interval", "must be between 1s and 24h, got %s", a.SummaryInterval)
	}
	v.rate("audit.refusal_events", a.RefusalEvents)
	v.rate("refusals.per_owner", v.c.Refusals.PerOwner)
	v.rate("refusals.per_address", v.c.Refusals.PerAddress)
}

func (v *validator) rate(path string, r *RateLimit) {
	switch {
	case r.PerSecond < 0:
		v.add(path+".per_second", "must not be negative (0 switches the limit off), got %g", r.PerSecond)
	case r.PerSecond > 0 && (r.Burst < 1 || r.Burst > 1_000_000):
		v.add(path+".burst", "must be between 1 and 1000000, got %d", r.Burst)
	}
}

// String describes a limit for the start-up log.
func (r RateLimit) String() string {
	if r.PerSecond == 0 {
		return "off"
	}
	return fmt.Sprintf("%g/s burst %d", r.PerSecond, r.Burst)
}
