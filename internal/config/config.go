package config

import (
	"log/slog"
	"time"
)

// Config is the whole configuration file, with defaults applied, secrets
// resolved and policies compiled.
type Config struct {
	Listen      Listen      `json:"listen"`
	Database    Database    `json:"database"`
	Log         Log         `json:"log"`
	Upstreams   Upstreams   `json:"upstreams"`
	Purposes    []Purpose   `json:"purposes"`
	Auth        Auth        `json:"auth"`
	Workers     Workers     `json:"workers"`
	Idempotency Idempotency `json:"idempotency"`
	Tokens      Tokens      `json:"tokens"`
	Audit       Audit       `json:"audit"`
	Refusals    Refusals    `json:"refusals"`
	Proxy       Proxy       `json:"proxy"`
	Retention   Retention   `json:"retention"`

	// Source is the name the config was loaded from.
	Source string `json:"-"`

	warnings []string
}

// Listen is where the broker serves.
type Listen struct {
	// GRPCAddr defaults to 127.0.0.1:9090.
	GRPCAddr string `json:"grpc_addr"`
	// HTTPAddr serves the REST gateway, metrics and health; defaults to
	// 127.0.0.1:8080.
	HTTPAddr string `json:"http_addr"`
	// OpsAddr, when set, serves /metrics, /healthz and /readyz on a
	// plaintext listener of their own (for probes and scrapers on a
	// private network), and the HTTP port stops serving them.
	OpsAddr string `json:"ops_addr"`
	// MaxBodyBytes bounds request bodies; defaults to 1 MiB.
	MaxBodyBytes int64 `json:"max_body_bytes"`
	// TLS is nil for plaintext listeners.
	TLS *TLS `json:"tls"`
	// Limits bound connections, streams and headers.
	Limits Limits `json:"limits"`
}

// Client certificate modes.
const (
	ClientAuthNone    = "none"
	ClientAuthRequest = "request"
	ClientAuthRequire = "require"
)

// TLS configures both listeners.
type TLS struct {
	// CertFile and KeyFile are the server certificate and key, PEM;
	// relative paths are relative to the configuration file.
	CertFile string `json:"cert_file"`
	KeyFile  string `json:"key_file"`
	// ClientCAFile holds the PEM CAs that sign client certificates, for
	// mTLS; required with client_auth request or require.
	ClientCAFile string `json:"client_ca_file"`
	// ClientAuth is none (default), request (verify a certificate when
	// one is sent) or require.
	ClientAuth string `json:"client_auth"`
}

// Database is the PostgreSQL connection.
type Database struct {
	// URL is a connection string without a password (peer auth, a
	// passfile, PGPASSWORD); use URLEnv when it must carry one.
	URL    string `json:"url"`
	URLEnv string `json:"url_env"`
	// MaxConns bounds the pool of connections per replica; defaults to 10.
	MaxConns int `json:"max_conns"`
	// Migrations is what serve does with the schema at start-up: apply
	// (the default) migrates under the advisory lock, which needs a role
	// that may create tables; verify only checks that every migration the
	// binary knows is applied and refuses to start otherwise, so serve can
	// run as a role that may only read and write rows while "broker
	// migrate" runs as the schema's owner.
	Migrations string `json:"migrations"`

	// ConnString is URL or the value of URLEnv.
	ConnString Secret `json:"-"`
}

// What serve does with the schema, as written in database.migrations.
const (
	MigrationsApply  = "apply"
	MigrationsVerify = "verify"
)

// Log configures the process logger.
type Log struct {
	// Format is json (default) or text.
	Format string `json:"format"`
	// Level is debug, info (default), warn or error.
	Level string `json:"level"`
}

// SlogLevel returns Level as a slog.Level.
func (l Log) SlogLevel() slog.Level {
	var v slog.Level
	// Validated at load, so the error cannot happen here.
	_ = v.UnmarshalText([]byte(l.Level))
	return v
}

// Workers tunes the background workers.
type Workers struct {
	// RevokeBatchSize is how many leases the revoker claims per pass.
	RevokeBatchSize int `json:"revoke_batch_size"`
	// RevokeMaxAttempts is how many times a revocation is tried, with
	// backoff from RevokeBackoffBase doubling up to RevokeBackoffMax,
	// before the lease becomes revoke_failed.
	RevokeMaxAttempts int           `json:"revoke_max_attempts"`
	RevokeBackoffBase time.Duration `json:"revoke_backoff_base"`
	RevokeBackoffMax  time.Duration `json:"revoke_backoff_max"`
	// RevokeFailedRetryInterval is the slow retry of revoke_failed leases.
	RevokeFailedRetryInterval time.Duration `json:"revoke_failed_retry_interval"`
	// PendingTimeout is how old a pending lease must be before the
	// sweeper treats its mint as crashed.
	PendingTimeout time.Duration `json:"pending_timeout"`
	// ReconcileInterval is how often the reconciler lists upstream tokens
	// and deletes broker-named ones without a live lease.
	ReconcileInterval time.Duration `json:"reconcile_interval"`
	// ClaimTimeout is how long a worker's claim on a lease lasts.
	ClaimTimeout time.Duration `json:"claim_timeout"`
}

// Retention says how long what has ended is kept.
type Retention struct {
	// Leases is how long a lease is kept after it reached revoked or
	// failed; default 720h (30 days). A forgotten token lease and every
	// live lease are kept regardless.
	Leases time.Duration `json:"leases"`
	// Audit is how long audit events are kept; default 9600h (400 days),
	// at least 744h (31 days). Events leave by whole months, once the
	// month's last instant is older.
	Audit time.Duration `json:"audit"`
	// Interval is the time between lease retention passes; default 1m.
	Interval time.Duration `json:"interval"`
	// BatchSize is how many leases one delete takes; default 500.
	BatchSize int `json:"batch_size"`
}

// Idempotency configures replay of a retried issue request.
type Idempotency struct {
	// SealKeyEnv or SealKeyFile hold a base64 32-byte AES key. With
	// neither, a retried request with the same idempotency key gets the
	// lease but not the token again.
	SealKeyEnv  string `json:"seal_key_env"`
	SealKeyFile string `json:"seal_key_file"`
	// ReplayWindow is how long a sealed token is kept for replay before
	// it is erased; at most 24h.
	ReplayWindow time.Duration `json:"replay_window"`

	// SealKey is the key as written (package seal decodes it), unset when
	// not configured; SealKeyPath is the field it came from, for errors.
	SealKey     Secret `json:"-"`
	SealKeyPath string `json:"-"`
}

// Tokens configures how upstream tokens are named.
type Tokens struct {
	// NamePrefix starts every upstream token name; defaults to ztbroker.
	NamePrefix string `json:"name_prefix"`
}

// Proxy configures the scoped proxy that purposes with delivery proxy use.
type Proxy struct {
	// PublicURL is the broker's HTTP address as callers reach it, e.g.
	// https://broker.example; a proxy lease's api_base_url is
	// PublicURL/zt/<purpose>. Defaults to the listen address.
	PublicURL string `json:"public_url"`
	// MaxBodyBytes bounds a proxied request body; defaults to 64 KiB.
	MaxBodyBytes int `json:"max_body_bytes"`
	// MaxResponseBytes bounds a proxied response body; defaults to 16 MiB.
	MaxResponseBytes int64 `json:"max_response_bytes"`
	// ReadAuditInterval is how often, per lease and operation, a read
	// (GET) is written to the audit trail with the count of reads since;
	// every call that changes something is always audited. Defaults to 1m.
	ReadAuditInterval time.Duration `json:"read_audit_interval"`
}
