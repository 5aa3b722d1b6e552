package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/lease"
)

const sealKeyB64 = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

func fakeEnv(vars map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := vars[k]; return v, ok }
}

func exampleEnv() map[string]string {
	return map[string]string{
		"BROKER_DATABASE_URL":  "postgres://broker:hunter2@db/ztbroker",
		"ZT_CENTRAL_ADMIN_KEY": "central-admin-secret",
		"BROKER_OPS_KEY":       "ops-secret",
		"BROKER_SEAL_KEY":      sealKeyB64,
	}
}

func TestExampleLoads(t *testing.T) {
	t.Parallel()
	c, err := config.LoadWith("testdata/broker.yaml", config.Options{LookupEnv: fakeEnv(exampleEnv())})
	if err != nil {
		t.Fatal(err)
	}
	type summary struct {
		ClientCA, Legacy, AdminKey, DB string
		SealKey                        string
		OpsHash                        string
		Purposes                       []string
		Accounts                       []string
		Skew                           time.Duration
	}
	got := summary{
		ClientCA: c.Listen.TLS.ClientCAFile,
		Legacy:   c.Upstream("old").Legacy.Token.Reveal(),
		AdminKey: c.Upstream("prod").NewCentral.AdminKey.Reveal(),
		DB:       c.Database.ConnString.Reveal(),
		SealKey:  c.Idempotency.SealKey.Reveal(),
		OpsHash:  c.Auth.APIKeys[1].Hash,
		Skew:     c.Auth.OIDC.ClockSkew,
	}
	for i := range c.Purposes {
		got.Purposes = append(got.Purposes, c.Purposes[i].Name)
		got.Accounts = append(got.Accounts, c.Purposes[i].Account(c))
	}
	want := summary{
		ClientCA: filepath.Join("testdata", "tls", "clients-ca.crt"),
		Legacy:   "legacy-admin-token-from-file",
		AdminKey: "central-admin-secret",
		DB:       "postgres://broker:hunter2@db/ztbroker",
		SealKey:  sealKeyB64,
		OpsHash:  lease.HashToken("ops-secret"),
		Purposes: []string{"ci-deploy", "network-audit", "ci-members"},
		Accounts: []string{"sa-deploy", "00000000-0000-0000-0000-000000000001", "sa-deploy"},
		Skew:     time.Minute,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("loaded config (-want +got):\n%s", diff)
	}

}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := config.Load(path)
	var fe *config.FieldError
	if !errors.As(err, &fe) || fe.File != path {
		t.Fatalf("err = %v, want a FieldError naming %s", err, path)
	}
}

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := config.ParseWith("min.yaml", []byte(minimal), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	type defaults struct {
		GRPC, HTTP      string
		Body            int64
		Conns           int
		Format, Level   string
		NCBase          string
		NCRate          float64
		NCTimeout, Skew time.Duration
		DefaultTTL, Max time.Duration
		Min             time.Duration
		Limits          config.Limits
		Audit           config.Audit
		Refusals        config.Refusals
		Workers         config.Workers
		Replay          time.Duration
		Prefix          string
		SealSet         bool
		OIDC            *config.OIDC
		Retention       config.Retention
	}
	got := defaults{
		GRPC: c.Listen.GRPCAddr, HTTP: c.Listen.HTTPAddr, Body: c.Listen.MaxBodyBytes,
		Conns: c.Database.MaxConns, Format: c.Log.Format, Level: c.Log.Level,
		NCBase: c.Upstream("new_central").NewCentral.BaseURL, NCRate: c.Upstream("new_central").NewCentral.RateLimit,
		NCTimeout: c.Upstream("new_central").NewCentral.Timeout, Skew: c.Upstream("new_central").NewCentral.ExpirySkew,
		DefaultTTL: c.Purposes[0].DefaultTTL, Max: c.Purposes[0].MaxTTL, Min: c.Purposes[0].MinTTL,
		Limits: c.Listen.Limits, Audit: c.Audit, Refusals: c.Refusals,
		Workers: c.Workers, Replay: c.Idempotency.ReplayWindow, Prefix: c.Tokens.NamePrefix,
		SealSet: c.Idempotency.SealKey.IsSet(), OIDC: c.Auth.OIDC, Retention: c.Retention,
	}
	want := defaults{
		GRPC: "127.0.0.1:9090", HTTP: "127.0.0.1:8080", Body: 1 << 20,
		Conns: 10, Format: "json", Level: "info",
		NCBase: "https://central.zerotier.com", NCRate: 100, NCTimeout: 10 * time.Second, Skew: 5 * time.Minute,
		DefaultTTL: 15 * time.Minute, Max: time.Hour, Min: 10 * time.Second,
		Limits: config.Limits{
			MaxConnections: 1024, MaxHeaderBytes: 32 << 10, HandshakeTimeout: 5 * time.Second,
			MaxConcurrentStreams: 100, MaxUnauthenticatedStreams: 1000, KeepaliveMinTime: 10 * time.Second,
			MaxConnectionIdle: 5 * time.Minute, MaxConnectionAge: 30 * time.Minute, MaxConnectionAgeGrace: 30 * time.Second,
			ReadyzCache: time.Second,
		},
		Audit: config.Audit{MaxClaimBytes: 256, RefusalEvents: &config.RateLimit{PerSecond: 0.2, Burst: 20}, SummaryInterval: time.Minute},
		Refusals: config.Refusals{
			PerOwner:   &config.RateLimit{PerSecond: 1, Burst: 30},
			PerAddress: &config.RateLimit{PerSecond: 10, Burst: 300},
		},
		Workers: config.Workers{
			RevokeBatchSize: 50, RevokeMaxAttempts: 10, RevokeBackoffBase: time.Second,
			RevokeBackoffMax: 5 * time.Minute, RevokeFailedRetryInterval: time.Hour,
			PendingTimeout: 2 * time.Minute, ReconcileInterval: 10 * time.Minute, ClaimTimeout: time.Minute,
		},
		Replay: 10 * time.Minute, Prefix: "ztbroker",
		Retention: config.Retention{Leases: 720 * time.Hour, Audit: 9600 * time.Hour, Interval: time.Minute, BatchSize: 500},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	if lvl := c.Log.SlogLevel(); lvl.String() != "INFO" {
		t.Errorf("SlogLevel = %v", lvl)
	}
}

func TestMaxTTLDefaultFollowsLongDefaultTTL(t *testing.T) {
	t.Parallel()
	c, err := config.ParseWith("b.yaml", []byte(minimal+"    default_ttl: 2h\n"), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Purposes[0].MaxTTL; got != 2*time.Hour {
		t.Errorf("max_ttl = %s, want 2h", got)
	}
}

func TestSkipSecrets(t *testing.T) {
	t.Parallel()
	c, err := config.LoadWith("testdata/broker.yaml", config.Options{
		LookupEnv: fakeEnv(nil),
		ReadFile: func(name string) ([]byte, error) {
			if filepath.Base(name) != "broker.yaml" {
				t.Errorf("read %s although secrets are skipped", name)
			}
			return os.ReadFile(name)
		},
		SkipSecrets: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if c.Upstream("prod").NewCentral.AdminKey.IsSet() || len(c.Purposes) != 3 {
		t.Errorf("admin key set = %v, purposes = %d", c.Upstream("prod").NewCentral.AdminKey.IsSet(), len(c.Purposes))
	}
}

// testOptions serves secrets from memory: every /run/secrets/ file holds
// "file-secret" and the environment is exampleEnv's.
func testOptions() config.Options {
	return config.Options{
		LookupEnv: fakeEnv(exampleEnv()),
		ReadFile: func(name string) ([]byte, error) {
			if strings.HasPrefix(name, "/run/secrets/") {
				return []byte("file-secret\n"), nil
			}
			return nil, &os.PathError{Op: "open", Path: name, Err: os.ErrNotExist}
		},
	}
}

// minimalSections is the smallest valid config by top-level section.
var minimalSections = map[string]string{
	"database":  "\n  url: postgres://broker@localhost/ztbroker",
	"upstreams": "\n  new_central:\n    admin_key_file: /run/secrets/admin",
	"auth": `
  api_keys:
    - name: ci
      sha256: 2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae`,
	"purposes": `
  - name: deploy
    upstream: {kind: new_central, service_account_id: sa1}
    allow: {api_keys: [ci]}`,
}

// doc renders the minimal config with some sections replaced or added.
// purposes comes last so tests can append fields to its only purpose.
func doc(replace map[string]string) string {
	var b strings.Builder
	for _, k := range []string{"listen", "database", "log", "upstreams", "auth", "workers", "idempotency", "tokens", "proxy", "retention", "purposes"} {
		v, ok := replace[k]
		if !ok {
			v, ok = minimalSections[k]
		}
		if ok {
			b.WriteString(k + ": " + v + "\n")
		}
	}
	return b.String()
}

// minimal is the smallest valid config; tests append to its only purpose.
var minimal = doc(nil)

func TestListenAddressesMustDifferUnlessPortZero(t *testing.T) {
	t.Parallel()
	tests := map[string]bool{
		"{grpc_addr: 127.0.0.1:0, http_addr: 127.0.0.1:0}":       true,
		"{grpc_addr: 127.0.0.1:9000, http_addr: 127.0.0.1:9000}": false,
	}
	for listen, ok := range tests {
		_, err := config.ParseWith("b.yaml", []byte(doc(map[string]string{"listen": listen})), testOptions())
		if (err == nil) != ok {
			t.Errorf("listen %s: err = %v, want ok=%v", listen, err, ok)
		}
	}
}

func TestAdminCredentialSettings(t *testing.T) {
	t.Parallel()
	c, err := config.ParseWith("b.yaml", []byte(doc(map[string]string{
		"upstreams": `
  new_central:
    admin_key_file: /run/secrets/admin
    admin_key_id: k-1
    rotate: {before: 72h, lifetime: 30d}`,
		"idempotency": "\n  seal_key_file: /run/secrets/seal",
	})), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	nc := c.Upstream("new_central").NewCentral
	want := config.Rotate{Before: 72 * time.Hour, Lifetime: 30 * 24 * time.Hour, Grace: config.DefaultRotateGrace}
	if nc.Rotate == nil || *nc.Rotate != want {
		t.Errorf("rotate = %+v, want %+v", nc.Rotate, want)
	}
	if nc.ForeignKeys != config.ForeignKeysAlarm || nc.ExpiryWarning != 7*24*time.Hour || nc.ExpiryMinimum != time.Hour ||
		nc.MaxResponseBytes != 64<<20 || nc.AdminKeyID != "k-1" || nc.AdminKeyFile != "/run/secrets/admin" {
		t.Errorf("defaults not applied: %+v", nc)
	}
}
