package config

import (
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"time"
)

// validator checks a decoded, defaulted Config, resolves its secrets and
// compiles its policies, recording every problem.
type validator struct {
	c    *Config
	fe   *fieldErrors
	o    Options
	name string
}

// Bounds that catch typos (a TTL of "15h" meant as "15m" is still
// accepted; "150h" is not).
const (
	MaxPurposeTTL   = 7 * 24 * time.Hour
	maxReplayWindow = 24 * time.Hour
	maxBodyBytes    = 64 << 20
)

var (
	namePattern   = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)
	prefixPattern = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$`)
	keyName       = regexp.MustCompile(`^[a-z0-9]([a-z0-9_.-]{0,61}[a-z0-9])?$`)
)

func (v *validator) run() {
	v.listen()
	v.database()
	v.log()
	v.upstreams()
	v.auth()
	v.purposes()
	v.workers()
	v.idempotency()
	v.tokens()
	v.abuse()
	v.proxy()
	v.retention()
}

func (v *validator) retention() {
	r := &v.c.Retention
	switch {
	case r.Leases < MinLeaseRetention:
		v.add("retention.leases", "must be at least %s, got %s", MinLeaseRetention, r.Leases)
	case r.Leases < v.c.Idempotency.ReplayWindow:
		// A retried issue finds its lease by the idempotency key; once
		// the row is gone it would mint a second token.
		v.add("retention.leases", "must be at least idempotency.replay_window (%s), got %s",
			v.c.Idempotency.ReplayWindow, r.Leases)
	}
	if r.Audit < MinAuditRetention {
		v.add("retention.audit", "must be at least %s (31 days): audit events are kept in monthly partitions "+
			"and the current and the previous month always stay, got %s", MinAuditRetention, r.Audit)
	}
	if r.Interval < time.Second || r.Interval > 24*time.Hour {
		v.add("retention.interval", "must be between 1s and 24h, got %s", r.Interval)
	}
	v.intRange("retention.batch_size", r.BatchSize, 1, 10000)
}

func (v *validator) proxy() {
	p := &v.c.Proxy
	if p.PublicURL != "" {
		u, err := url.Parse(p.PublicURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			v.add("proxy.public_url", "must be an absolute http or https URL without query, fragment or credentials, got %q", p.PublicURL)
		}
	}
	if p.MaxBodyBytes < 1 || p.MaxBodyBytes > 1<<20 {
		v.add("proxy.max_body_bytes", "must be between 1 and %d, got %d", 1<<20, p.MaxBodyBytes)
	}
	if p.MaxResponseBytes < 1 || p.MaxResponseBytes > 1<<30 {
		v.add("proxy.max_response_bytes", "must be between 1 and %d, got %d", 1<<30, p.MaxResponseBytes)
	}
	if p.ReadAuditInterval < 0 {
		v.add("proxy.read_audit_interval", "must not be negative, got %s", p.ReadAuditInterval)
	}
}

func (v *validator) add(path, format string, args ...any) { v.fe.add(path, format, args...) }

func (v *validator) listen() {
	l := &v.c.Listen
	v.addr("listen.grpc_addr", l.GRPCAddr)
	v.addr("listen.http_addr", l.HTTPAddr)
	// Port 0 asks the kernel for a fresh port per listener, so two such
	// addresses never collide.
	if _, port, _ := net.SplitHostPort(l.GRPCAddr); l.GRPCAddr == l.HTTPAddr && port != "0" {
		v.add("listen.http_addr", "must differ from grpc_addr")
	}
	if l.MaxBodyBytes < 0 || l.MaxBodyBytes > maxBodyBytes {
		v.add("listen.max_body_bytes", "must be between 1 and %d", maxBodyBytes)
	}
	if l.OpsAddr != "" {
		v.addr("listen.ops_addr", l.OpsAddr)
		_, port, _ := net.SplitHostPort(l.OpsAddr)
		if port != "0" && (l.OpsAddr == l.GRPCAddr || l.OpsAddr == l.HTTPAddr) {
			v.add("listen.ops_addr", "must differ from grpc_addr and http_addr")
		}
	}
	v.limits()
	t := l.TLS
	if t == nil {
		return
	}
	v.requiredFile("listen.tls.cert_file", &t.CertFile)
	v.requiredFile("listen.tls.key_file", &t.KeyFile)
	v.resolvePath(&t.ClientCAFile)
	switch t.ClientAuth {
	case ClientAuthNone:
		if t.ClientCAFile != "" {
			v.add("listen.tls.client_auth", "is none, so client_ca_file would be ignored; set request or require")
		}
	case ClientAuthRequest, ClientAuthRequire:
		if t.ClientCAFile == "" {
			v.add("listen.tls.client_ca_file", "is required when client_auth is %s", t.ClientAuth)
		}
	default:
		v.add("listen.tls.client_auth", "must be none, request or require, got %q", t.ClientAuth)
	}
}

func (v *validator) addr(path, a string) {
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		v.add(path, "must be host:port, got %q", a)
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.add(path, "port must be a number from 0 to 65535, got %q", port)
	}
}

func (v *validator) database() {
	d := &v.c.Database
	switch {
	case d.URL != "" && d.URLEnv != "":
		v.add("database", "set url or url_env, not both")
	case d.URL != "":
		// Whether it holds a password is judged by pgx's own parser, a
		// Check the wiring passes in.
		d.ConnString = NewSecret([]byte(d.URL))
	case d.URLEnv != "":
		d.ConnString = v.env("database.url_env", d.URLEnv)
	case v.o.NoDatabase:
	default:
		v.add("database.url", "is required (or url_env)")
	}
	if d.Migrations != MigrationsApply && d.Migrations != MigrationsVerify {
		v.add("database.migrations", "must be %s or %s, got %q", MigrationsApply, MigrationsVerify, d.Migrations)
	}
	if d.MaxConns < 1 || d.MaxConns > 1000 {
		v.add("database.max_conns", "must be between 1 and 1000, got %d", d.MaxConns)
	}
}

func (v *validator) log() {
	switch v.c.Log.Format {
	case "json", "text":
	default:
		v.add("log.format", "must be json or text, got %q", v.c.Log.Format)
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(v.c.Log.Level)); err != nil {
		v.add("log.level", "must be debug, info, warn or error, got %q", v.c.Log.Level)
	}
}

func (v *validator) workers() {
	w := &v.c.Workers
	v.intRange("workers.revoke_batch_size", w.RevokeBatchSize, 1, 1000)
	v.intRange("workers.revoke_max_attempts", w.RevokeMaxAttempts, 1, 1000)
	for _, f := range []struct {
		path string
		d    time.Duration
	}{
		{"workers.revoke_backoff_base", w.RevokeBackoffBase},
		{"workers.revoke_backoff_max", w.RevokeBackoffMax},
		{"workers.revoke_failed_retry_interval", w.RevokeFailedRetryInterval},
		{"workers.pending_timeout", w.PendingTimeout},
		{"workers.reconcile_interval", w.ReconcileInterval},
		{"workers.claim_timeout", w.ClaimTimeout},
	} {
		if f.d < 0 {
			v.add(f.path, "must be positive, got %s", f.d)
		}
	}
	if w.RevokeBackoffMax < w.RevokeBackoffBase {
		v.add("workers.revoke_backoff_max", "must be at least revoke_backoff_base (%s)", w.RevokeBackoffBase)
	}
}

func (v *validator) intRange(path string, n, lo, hi int) {
	if n < lo || n > hi {
		v.add(path, "must be between %d and %d, got %d", lo, hi, n)
	}
}

func (v *validator) idempotency() {
	i := &v.c.Idempotency
	if i.ReplayWindow < 0 || i.ReplayWindow > maxReplayWindow {
		v.add("idempotency.replay_window", "must be between 0 and %s, got %s", maxReplayWindow, i.ReplayWindow)
	}
	if i.SealKeyEnv == "" && i.SealKeyFile == "" {
		return
	}
	i.SealKeyPath, i.SealKey = v.secret("idempotency.seal_key", i.SealKeyEnv, &i.SealKeyFile)
}

func (v *validator) tokens() {
	if !prefixPattern.MatchString(v.c.Tokens.NamePrefix) {
		v.add("tokens.name_prefix", "must be 1-32 of [a-z0-9-], not starting or ending with -, got %q", v.c.Tokens.NamePrefix)
	}
}

// resolvePath makes a relative path relative to the config file.
func (v *validator) resolvePath(p *string) {
	if *p != "" && !filepath.IsAbs(*p) {
		*p = filepath.Join(filepath.Dir(v.name), *p)
	}
}

func (v *validator) requiredFile(path string, p *string) {
	if *p == "" {
		v.add(path, "is required")
		return
	}
	v.resolvePath(p)
}
