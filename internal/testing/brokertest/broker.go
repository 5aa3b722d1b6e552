package brokertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/server"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/store/memstore"
	"github.com/ztbroker/ztbroker/internal/store/pgstore"
	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator/emulatortest"
)

// The purposes every broker has. Each admits the API key in Broker.APIKey
// (and the OIDC subject of TrustOIDC).
const (
	// PurposeNC mints New Central keys: 5 minutes by default, renewable
	// to 15.
	PurposeNC = "svc"
	// PurposeLegacy mints Legacy tokens, with the same TTLs.
	PurposeLegacy = "svc-legacy"
	DefaultTTL    = 5 * time.Minute
	MaxTTL        = 15 * time.Minute
)

const configText = `
listen:
  grpc_addr: %q
  http_addr: %q
%s
upstreams:
  new_central:
    base_url: %q
    admin_key_env: NC_ADMIN_KEY
    rate_limit: 10000
  legacy:
    base_url: %q
    token_env: LEGACY_TOKEN
    user_id: %q
    rate_limit: 10000
purposes:
  - name: svc
    default_ttl: 5m
    max_ttl: 15m
    upstream: {kind: new_central, service_account_id: %q}
    allow: {api_keys: [svc]%s}
  - name: svc-legacy
    default_ttl: 5m
    max_ttl: 15m
    upstream: {kind: legacy}
    allow: {api_keys: [svc]%s}
auth:
  api_keys:
    - {name: svc, sha256: %q}
    - {name: root, sha256: %q}
  admins: ["api_key:root"]
%s%s`

const oidcText = `  oidc:
    audience: %q
    issuers:
      - {name: %q, issuer_url: %q, ca_file: %q, signing_algs: [ES256]}
`

// OIDCTrust is an OIDC issuer the broker trusts, and the subject it
// admits to every purpose.
type OIDCTrust struct {
	Name, IssuerURL, CAFile, Audience, Subject string
}

// Option adjusts a broker before it starts.
type Option func(*Broker)

// WithClock makes now the clock of the broker and of its emulator.
func WithClock(now func() time.Time) Option { return func(b *Broker) { b.now = now } }

// WithoutSealKey runs the broker without idempotency.seal_key, so that a
// replayed issue cannot return the secret.
func WithoutSealKey() Option { return func(b *Broker) { b.noSeal = true } }

// TrustOIDC makes the broker accept tokens from the issuer and admit its
// subject to every purpose.
func TrustOIDC(tr OIDCTrust) Option { return func(b *Broker) { b.oidc = &tr } }

// Broker is a running broker and its emulator.
type Broker struct {
	// Emu is the ZeroTier Central the broker mints on.
	Emu *emulator.Server
	// EmuURL is the emulator's root URL.
	EmuURL string
	// APIKey is admitted to every purpose; AdminKey is an admin's.
	APIKey, AdminKey string
	// GRPCAddr and HTTPAddr are where the broker listens.
	GRPCAddr, HTTPAddr string
	// Logs is everything the broker logged, as JSON lines.
	Logs *SyncBuffer
	// Store is the broker's store.
	Store store.Store

	now    func() time.Time
	noSeal bool
	oidc   *OIDCTrust
	dsn    string
	secret map[string]string

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan error
}

// Start runs a broker on a fresh PostgreSQL database for the length of t.
func Start(t testing.TB, opts ...Option) *Broker {
	t.Helper()
	b := newBroker(opts)
	b.dsn = pgtest.NewDatabase(t)
	emu := emulatortest.Start(t, b.emuOptions()...)
	b.Emu, b.EmuURL = emu.Server, emu.URL
	b.secret["NC_ADMIN_KEY"], b.secret["LEGACY_TOKEN"] = emu.AdminToken, emu.AdminToken
	pool, err := pgxpool.New(context.Background(), b.dsn)
	if err != nil {
		t.Fatalf("brokertest: open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	b.Store = pgstore.New(pool)
	t.Cleanup(func() {
		if err := b.Stop(); err != nil {
			t.Errorf("brokertest: broker Run returned %v", err)
		}
		if t.Failed() {
			t.Logf("broker logs:\n%s", b.Logs.String())
		}
	})
	if err := b.start("127.0.0.1:0", "127.0.0.1:0"); err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	return b
}

// StartExample runs a broker on the in-memory store, for examples, which
// have no *testing.T. stop ends it and its emulator.
func StartExample(opts ...Option) (b *Broker, stop func()) {
	b = newBroker(opts)
	adminToken := "adm_" + rand.Text()
	emu, err := emulator.New(append(b.emuOptions(), emulator.WithAdminToken(adminToken))...)
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(emu)
	b.Emu, b.EmuURL = emu, srv.URL
	b.secret["NC_ADMIN_KEY"], b.secret["LEGACY_TOKEN"] = adminToken, adminToken
	b.Store = memstore.New()
	if err := b.start("127.0.0.1:0", "127.0.0.1:0"); err != nil {
		panic(err)
	}
	return b, func() {
		_ = b.Stop()
		emu.Close()
		srv.Close()
	}
}

func newBroker(opts []Option) *Broker {
	b := &Broker{
		APIKey:   "ztb_svc_" + rand.Text(),
		AdminKey: "ztb_root_" + rand.Text(),
		Logs:     &SyncBuffer{},
		now:      time.Now,
		secret:   map[string]string{},
	}
	for _, o := range opts {
		o(b)
	}
	if !b.noSeal {
		b.secret["SEAL_KEY"] = base64.StdEncoding.EncodeToString([]byte(rand.Text() + rand.Text())[:32])
	}
	return b
}

func (b *Broker) emuOptions() []emulator.Option {
	return []emulator.Option{emulator.WithClock(b.now)}
}

func (b *Broker) configText(grpcAddr, httpAddr string) string {
	db := ""
	if b.dsn != "" {
		db = fmt.Sprintf("database:\n  url: %q\n  max_conns: 8", b.dsn)
	}
	subjects, oidc, idem := "", "", ""
	if tr := b.oidc; tr != nil {
		subjects = fmt.Sprintf(", subjects: [%q]", "oidc:"+tr.Name+"/"+tr.Subject)
		oidc = fmt.Sprintf(oidcText, tr.Audience, tr.Name, tr.IssuerURL, tr.CAFile)
	}
	if !b.noSeal {
		idem = "idempotency:\n  seal_key_env: SEAL_KEY\n"
	}
	sa := emulator.DefaultServiceAccount
	return fmt.Sprintf(configText, grpcAddr, httpAddr, db, b.EmuURL, b.EmuURL+"/api/v1", emulator.DefaultLegacyUser,
		sa, subjects, subjects, hash(b.APIKey), hash(b.AdminKey), oidc, idem)
}

// start completes and runs a server on the given addresses.
func (b *Broker) start(grpcAddr, httpAddr string) error {
	cfg, err := server.ParseConfig("brokertest", []byte(b.configText(grpcAddr, httpAddr)), config.Options{
		LookupEnv:  func(k string) (string, bool) { v, ok := b.secret[k]; return v, ok },
		NoDatabase: b.dsn == "",
	})
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewJSONHandler(b.Logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.Config{
		File: cfg, Logger: log, Store: b.Store, Now: b.now,
		TracerProvider: noop.NewTracerProvider(), ShutdownTimeout: 5 * time.Second,
	}.Complete(ctx)
	if err != nil {
		cancel()
		return fmt.Errorf("complete: %w", err)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.GRPCAddr, b.HTTPAddr = srv.GRPCAddr(), srv.HTTPAddr()
	done := make(chan error, 1)
	b.cancel, b.done = cancel, done
	go func() { done <- srv.Run(ctx) }()
	return nil
}

// Stop stops the broker, as an outage or a restart would; it does nothing
// when the broker is not running.
func (b *Broker) Stop() error {
	b.mu.Lock()
	cancel, done := b.cancel, b.done
	b.cancel, b.done = nil, nil
	b.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	return <-done
}

// Restart starts a stopped broker again on the same ports and store.
func (b *Broker) Restart(t testing.TB) {
	t.Helper()
	if err := b.start(b.GRPCAddr, b.HTTPAddr); err != nil {
		t.Fatalf("brokertest: restart: %v", err)
	}
}

// LiveTokens is the hashes of the tokens the emulator would accept now
// (by its clock), keyed by upstream token id (or Legacy name).
func (b *Broker) LiveTokens() map[string]string {
	out := map[string]string{}
	for _, l := range b.Emu.Tokens().Alive() {
		out[l.ID] = l.SHA256
	}
	return out
}

// TryToken uses a token the way its holder would and returns the HTTP
// status the emulator answers: GET /api/v2/org for a New Central key, GET
// /api/v1/status for a Legacy token ("token" scheme), where a null user
// counts as 401 because Central answers 200 either way. Zero means the
// request failed outright.
func (b *Broker) TryToken(ctx context.Context, scheme, token string) int {
	path := "/api/v2/org"
	legacy := strings.EqualFold(scheme, "token")
	if legacy {
		path = "/api/v1/status"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.EmuURL+path, nil)
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", scheme+" "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if !legacy || resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	var st struct {
		User *json.RawMessage `json:"user"`
	}
	if json.NewDecoder(resp.Body).Decode(&st) != nil || st.User == nil || string(*st.User) == "null" {
		return http.StatusUnauthorized
	}
	return http.StatusOK
}

// CheckNoSecret fails t when any output, or the broker's logs, contains
// one of the secrets.
func (b *Broker) CheckNoSecret(t testing.TB, secrets []string, outputs ...string) {
	t.Helper()
	outputs = append(outputs, b.Logs.String())
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for i, out := range outputs {
			if strings.Contains(out, s) {
				t.Errorf("output %d (of %d, the last is the broker's log) contains a secret", i, len(outputs))
			}
		}
	}
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// SyncBuffer collects output written from many goroutines.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
