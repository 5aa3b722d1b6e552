package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/server"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/store/pgstore"
	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator/emulatortest"
)

// Purposes the test configuration defines.
const (
	purposeNC     = "nc"
	purposeLegacy = "legacy"
	purposeAlice  = "nc-alice"
	purposeQuota  = "quota"
	purposeRate   = "rate"
	maxTTL        = 10 * time.Minute
	quotaActive   = 10
)

const configText = `
listen:
  grpc_addr: 127.0.0.1:0
  http_addr: localhost:0
  max_body_bytes: 4096
%s
database:
  url: %q
  max_conns: 20
upstreams:
  new_central:
    base_url: %q
    admin_key_env: NC_ADMIN_KEY
    rate_limit: %g
    timeout: %s
%s
  legacy:
    base_url: %q
    token_env: LEGACY_TOKEN
    user_id: %q
    rate_limit: %g
    timeout: %s
purposes:
  - name: nc
    default_ttl: 5m
    max_ttl: 10m
    min_ttl: 1s
    upstream: {kind: new_central, service_account_id: %q}
    allow: {api_keys: [alice, bob]}
  - name: legacy
    default_ttl: 5m
    max_ttl: 10m
    min_ttl: 1s
    upstream: {kind: legacy}
    allow: {api_keys: [alice, bob]}
  - name: nc-alice
    upstream: {kind: new_central, service_account_id: %q}
    allow: {api_keys: [alice]}
  - name: quota
    upstream: {kind: new_central, service_account_id: %q}
    allow: {api_keys: [alice]}
    quota: {max_active: 10}
  - name: rate
    upstream: {kind: new_central, service_account_id: %q}
    allow: {api_keys: [alice]}
    quota: {max_issues_per_minute: 1}
%s
auth:
  api_keys:
    - {name: alice, sha256: %q}
    - {name: bob, sha256: %q}
    - {name: root, sha256: %q}
  admins: ["api_key:root"%s]
%s
%s
`

// params tune one harness.
type params struct {
	seal            bool
	upstreamTimeout time.Duration
	shutdown        time.Duration
	emuOpts         []emulator.Option
	// upstreamRate is both upstreams' rate_limit; default 10000.
	upstreamRate float64
	now          func() time.Time

	// Extra YAML spliced into the configuration: lines under listen: and
	// auth:, items appended to purposes:, and owners added to admins.
	listenYAML, authYAML, purposesYAML string
	admins                             []string
	// clientTLS is how the harness's own clients dial a server that
	// serves TLS; nil means plaintext.
	clientTLS *tls.Config
	// wrapStore, when set, wraps the server's PostgreSQL store.
	wrapStore func(store.Store) store.Store
	// extraHTTP is server.Config.ExtraHTTP.
	extraHTTP map[string]http.Handler
	// ncYAML is spliced under upstreams.new_central.
	ncYAML string
	// startErr, when set, receives Complete's error, and the harness
	// expects start-up to fail.
	startErr *error
	// sighup is server.Config.SIGHUP.
	sighup chan os.Signal
	// ncKeyFile, when set, holds the New Central admin key.
	ncKeyFile string
	// legacyTokenFile, when set, holds the Legacy admin token.
	legacyTokenFile string
	// dsn and emu, when set, are another harness's database and
	// emulator, for a server that takes over from it.
	dsn string
	emu *emulatortest.Emulator
}

// takingOver runs the new server on prev's database and emulator, as a
// restart with a new configuration would.
func takingOver(prev *harness) option {
	return func(p *params) { p.dsn, p.emu = prev.dsn, prev.emu }
}

// withNewCentralYAML adds lines (indented four spaces) under
// upstreams.new_central.
func withNewCentralYAML(y string) option { return func(p *params) { p.ncYAML += y } }

// expectStartError makes setup return once Complete has failed, with its
// error in *err.
func expectStartError(err *error) option { return func(p *params) { p.startErr = err } }

func withSIGHUP(ch chan os.Signal) option { return func(p *params) { p.sighup = ch } }

// withKeyFile reads the New Central admin key from path, which setup
// writes with the emulator's admin token.
func withKeyFile(path string) option { return func(p *params) { p.ncKeyFile = path } }

// padded is a secret file's content for s, padded with newlines (which
// the reader trims) to a fixed size, so that replacing one secret by
// another leaves the file's size as it was.
func padded(s string) string {
	const size = 128
	return s + strings.Repeat("\n", max(1, size-len(s)))
}

// withLegacyTokenFile reads the Legacy admin token from path, which setup
// writes with the emulator's admin token.
func withLegacyTokenFile(path string) option { return func(p *params) { p.legacyTokenFile = path } }

type option func(*params)

func withoutSealKey() option { return func(p *params) { p.seal = false } }
func withEmulator(opts ...emulator.Option) option {
	return func(p *params) { p.emuOpts = append(p.emuOpts, opts...) }
}
func withUpstreamRate(r float64) option { return func(p *params) { p.upstreamRate = r } }

// withNow runs the server on a clock of the test's.
func withNow(now func() time.Time) option        { return func(p *params) { p.now = now } }
func withUpstreamTimeout(d time.Duration) option { return func(p *params) { p.upstreamTimeout = d } }

// withYAML splices configuration in; see params.
func withYAML(listen, auth, purposes string) option {
	return func(p *params) {
		p.listenYAML += listen
		p.authYAML += auth
		p.purposesYAML += purposes
	}
}

func withAdmins(owners ...string) option {
	return func(p *params) { p.admins = append(p.admins, owners...) }
}

// withStore has the server use wrap(its store), for faults no real store
// produces.
func withStore(wrap func(store.Store) store.Store) option {
	return func(p *params) { p.wrapStore = wrap }
}

// withHTTP mounts h on the server's HTTP port at pattern.
func withHTTP(pattern string, h http.Handler) option {
	return func(p *params) {
		if p.extraHTTP == nil {
			p.extraHTTP = map[string]http.Handler{}
		}
		p.extraHTTP[pattern] = h
	}
}

// withClientTLS dials the server over TLS with c (which must trust the
// server's certificate).
func withClientTLS(c *tls.Config) option { return func(p *params) { p.clientTLS = c } }

// harness is one running broker on pgstore, in front of an in-process
// emulator, with three callers: alice and bob (API keys) and root (admin).
type harness struct {
	emu   *emulatortest.Emulator
	srv   *server.Server
	cfg   *config.Config
	db    *pgxpool.Pool
	dsn   string
	logs  *syncBuffer
	spans *tracetest.SpanRecorder

	tb    ztbrokerv1.TokenBrokerClient
	admin ztbrokerv1.AdminServiceClient
	base  string
	hc    *http.Client
	// clientTLS is params.clientTLS, for clients made later.
	clientTLS *tls.Config

	keyA, keyB, keyRoot string
	sealKey             string
	ncAdminKey          string

	cancel context.CancelFunc
	done   chan error
}

func setup(t testing.TB, opts ...option) *harness {
	t.Helper()
	p := params{seal: true, upstreamTimeout: 5 * time.Second, shutdown: 5 * time.Second, upstreamRate: 10000}
	for _, o := range opts {
		o(&p)
	}
	h := &harness{
		keyA:    "ztb_alice_" + rand.Text(),
		keyB:    "ztb_bob_" + rand.Text(),
		keyRoot: "ztb_root_" + rand.Text(),
		logs:    &syncBuffer{},
		spans:   tracetest.NewSpanRecorder(),
	}
	dsn := p.dsn
	if dsn == "" {
		dsn = pgtest.NewDatabase(t)
	}
	h.dsn = dsn
	h.emu = p.emu
	if h.emu == nil {
		h.emu = emulatortest.Start(t, p.emuOpts...)
	}
	h.ncAdminKey = h.emu.AdminToken

	secrets := map[string]string{"NC_ADMIN_KEY": h.emu.AdminToken, "LEGACY_TOKEN": h.emu.AdminToken}
	idem := ""
	if p.seal {
		h.sealKey = base64.StdEncoding.EncodeToString([]byte(rand.Text() + rand.Text())[:32])
		secrets["SEAL_KEY"] = h.sealKey
		idem = "idempotency:\n  seal_key_env: SEAL_KEY\n"
	}
	sa := emulator.DefaultServiceAccount
	var admins strings.Builder
	for _, o := range p.admins {
		fmt.Fprintf(&admins, ", %q", o)
	}
	text := fmt.Sprintf(configText, p.listenYAML, dsn, h.emu.URL, p.upstreamRate, p.upstreamTimeout, p.ncYAML, h.emu.URL+"/api/v1", emulator.DefaultLegacyUser,
		p.upstreamRate, p.upstreamTimeout, sa, sa, sa, sa, p.purposesYAML, hash(h.keyA), hash(h.keyB), hash(h.keyRoot), admins.String(), p.authYAML, idem)
	if p.ncKeyFile != "" {
		if err := os.WriteFile(p.ncKeyFile, []byte(h.emu.AdminToken+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		text = strings.Replace(text, "admin_key_env: NC_ADMIN_KEY", "admin_key_file: "+p.ncKeyFile, 1)
	}
	if p.legacyTokenFile != "" {
		if err := os.WriteFile(p.legacyTokenFile, []byte(padded(h.emu.AdminToken)), 0o600); err != nil {
			t.Fatal(err)
		}
		text = strings.Replace(text, "token_env: LEGACY_TOKEN", "token_file: "+p.legacyTokenFile, 1)
	}
	cfg, err := config.ParseWith("test", []byte(text), config.Options{
		LookupEnv: func(k string) (string, bool) { v, ok := secrets[k]; return v, ok },
	})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	h.cfg = cfg

	// Opened before the server so that it closes after the server stops:
	// a wrapped store runs on it.
	h.db, err = pgxpool.New(context.Background(), dsn)
	if err != nil {
		t.Fatalf("pool: %v", err)
	}
	t.Cleanup(h.db.Close)
	var st store.Store
	if p.wrapStore != nil {
		st = p.wrapStore(pgstore.New(h.db))
	}

	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	tp := trace.NewTracerProvider(trace.WithSpanProcessor(h.spans))
	log := slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	scfg := server.Config{
		File: cfg, Logger: log, TracerProvider: tp, ShutdownTimeout: p.shutdown,
		Store: st, ExtraHTTP: p.extraHTTP, Now: p.now,
	}
	if p.sighup != nil {
		scfg.SIGHUP = p.sighup
	}
	h.srv, err = scfg.Complete(ctx)
	if p.startErr != nil {
		cancel()
		_ = tp.Shutdown(context.Background())
		if err == nil {
			t.Fatal("complete succeeded; want a start-up error")
		}
		*p.startErr = err
		return h
	}
	if err != nil {
		cancel()
		t.Fatalf("complete: %v", err)
	}
	h.done = make(chan error, 1)
	go func() { h.done <- h.srv.Run(ctx) }()
	t.Cleanup(func() {
		if err := h.stop(); err != nil {
			t.Errorf("Run returned %v", err)
		}
		_ = tp.Shutdown(context.Background())
	})

	h.clientTLS = p.clientTLS
	h.dial(t, p.clientTLS)
	return h
}

// dial points the harness's gRPC and REST clients at the server, over
// TLS with c when c is set.
func (h *harness) dial(t testing.TB, c *tls.Config) {
	t.Helper()
	creds := insecure.NewCredentials()
	h.base = "http://" + h.srv.HTTPAddr()
	if c != nil {
		creds = credentials.NewTLS(c)
		h.base = "https://" + h.srv.HTTPAddr()
	}
	conn, err := grpc.NewClient(h.srv.GRPCAddr(), grpc.WithTransportCredentials(creds))
	if err != nil {
		t.Fatalf("grpc client: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	h.tb = ztbrokerv1.NewTokenBrokerClient(conn)
	h.admin = ztbrokerv1.NewAdminServiceClient(conn)
	tr := &http.Transport{MaxIdleConnsPerHost: 64, TLSClientConfig: c, ForceAttemptHTTP2: c != nil}
	h.hc = &http.Client{Transport: tr}
	t.Cleanup(tr.CloseIdleConnections)
}

// stop cancels Run and waits for it; it is safe to call twice.
func (h *harness) stop() error {
	h.cancel()
	err, ok := <-h.done
	if ok {
		close(h.done)
	}
	return err
}

// as returns ctx carrying key as the caller's bearer credential.
func as(ctx context.Context, key string) context.Context {
	if key == "" {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+key)
}

func hash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// testContext bounds a test's calls. It is made before the test's
// parallel subtests, which may queue behind the package's other tests for
// a while on a busy machine, so it is generous: it only stops a hung test.
func testContext(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// syncBuffer collects log output written from many goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// leaseState reads a lease's state, revoke reason and expiries straight
// from the database, bypassing the API.
func (h *harness) dbLease(t testing.TB, id string) (state, reason string, upstreamExpire *time.Time) {
	t.Helper()
	err := h.db.QueryRow(context.Background(),
		`SELECT state::text, coalesce(revoke_reason, ''), upstream_expire_time FROM leases WHERE id = $1`, id).
		Scan(&state, &reason, &upstreamExpire)
	if err != nil {
		t.Fatalf("read lease %s: %v", id, err)
	}
	return state, reason, upstreamExpire
}

// activeLeases counts leases the database holds as pending or active.
func (h *harness) activeLeases(t testing.TB, purpose string) int {
	t.Helper()
	var n int
	if err := h.db.QueryRow(context.Background(),
		`SELECT count(*) FROM leases WHERE purpose = $1 AND state::text IN ('pending', 'active')`, purpose).Scan(&n); err != nil {
		t.Fatalf("count leases: %v", err)
	}
	return n
}

// liveTokens counts the tokens the emulator would accept right now.
func (h *harness) liveTokens() int { return len(h.emu.Tokens().Alive()) }

func containsAny(haystack string, needles []string) []string {
	var found []string
	for _, n := range needles {
		if n != "" && strings.Contains(haystack, n) {
			found = append(found, n)
		}
	}
	return found
}

// waitBriefly paces a retry loop whose end the server controls.
func waitBriefly(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(20 * time.Millisecond):
	}
}
