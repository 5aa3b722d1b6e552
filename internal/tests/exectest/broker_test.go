package exectest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/server"
	"github.com/ztbroker/ztbroker/internal/store/pgstore"
	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator/emulatortest"
)

// Purposes the broker configuration defines.
const (
	// purposeCI leases last minutes: nothing renews during a test.
	purposeCI = "ci"
	// purposeShort leases last shortTTL, so exec has to renew them for a
	// command to outlive the first expiry.
	purposeShort = "short"
	shortTTL     = 3 * time.Second
	// purposeScoped delivers by proxy: a broker credential that may list
	// networks and authorise members of scopedNetwork only.
	purposeScoped = "scoped"
	scopedNetwork = "8056c2e21c000001"
	otherNetwork  = "8056c2e21c000002"
	scopedMember  = "deadbeef00"
)

const configText = `
listen:
  grpc_addr: %q
  http_addr: %q
database:
  url: %q
  max_conns: 8
upstreams:
  new_central:
    base_url: %q
    admin_key_env: NC_ADMIN_KEY
    rate_limit: 10000
purposes:
  - name: ci
    default_ttl: 5m
    max_ttl: 10m
    upstream: {kind: new_central, service_account_id: %q}
    allow: {api_keys: [runner]%s}
  - name: short
    default_ttl: %s
    max_ttl: 1m
    upstream: {kind: new_central, service_account_id: %q}
    allow: {api_keys: [runner]}
  - name: scoped
    delivery: proxy
    upstream: {kind: new_central, service_account_id: sa-emulator}
    allow: {api_keys: [runner]}
    scope:
      networks: ["8056c2e21c000001"]
      rules:
        - {name: read, operations: ["GET /api/v2/network"]}
        - {name: authorize, operations: ["POST /api/v2/network/{network}/member/{member}/authorize"]}
auth:
  api_keys:
    - {name: runner, sha256: %q}
%sidempotency:
  seal_key_env: SEAL_KEY
`

const oidcConfigText = `  oidc:
    audience: %q
    issuers:
      - {name: %q, issuer_url: %q, ca_file: %q, signing_algs: [ES256]}
`

// liveBroker is the production server on its own database and emulator.
// It can be stopped and started again on the same ports and database, the
// way an operator restarts it.
type liveBroker struct {
	t      *testing.T
	emu    *emulatortest.Emulator
	dsn    string
	apiKey string
	// secrets stay the same across restarts, the seal key included, so a
	// restarted broker can still open what its predecessor sealed.
	secrets map[string]string
	logs    *syncBuffer
	store   *pgstore.Store

	// oidc, when set, makes the broker trust this issuer too.
	oidc *oidcIssuer

	grpcAddr, httpAddr string
	cancel             context.CancelFunc
	done               chan error
}

// brokerOption adjusts a broker before it first starts.
type brokerOption func(*liveBroker)

// trusting makes the broker accept the issuer's tokens and admit its
// subject to purposeCI.
func trusting(is *oidcIssuer) brokerOption { return func(b *liveBroker) { b.oidc = is } }

// startBroker runs a broker on loopback ports chosen by the kernel.
func startBroker(t *testing.T, opts ...brokerOption) *liveBroker {
	t.Helper()
	b := &liveBroker{
		t:   t,
		dsn: pgtest.NewDatabase(t),
		emu: emulatortest.Start(t, emulator.WithNetworks(
			emulator.NetworkSeed{ID: scopedNetwork, Members: []emulator.MemberSeed{{ID: scopedMember}}},
			emulator.NetworkSeed{ID: otherNetwork, Members: []emulator.MemberSeed{{ID: scopedMember}}},
		)),
		apiKey: "ztb_runner_" + rand.Text(),
		logs:   &syncBuffer{},
	}
	for _, o := range opts {
		o(b)
	}
	b.secrets = map[string]string{
		"NC_ADMIN_KEY": b.emu.AdminToken,
		"SEAL_KEY":     base64.StdEncoding.EncodeToString([]byte(rand.Text() + rand.Text())[:32]),
	}
	pool, err := pgxpool.New(context.Background(), b.dsn)
	if err != nil {
		t.Fatalf("open pool: %v", err)
	}
	t.Cleanup(pool.Close)
	b.store = pgstore.New(pool)
	t.Cleanup(func() {
		b.stop()
		if t.Failed() {
			t.Logf("broker logs:\n%s", b.logs.String())
		}
	})
	b.start("127.0.0.1:0", "127.0.0.1:0")
	return b
}

// start completes and runs a server listening on the given addresses.
func (b *liveBroker) start(grpcAddr, httpAddr string) {
	b.t.Helper()
	sa := emulator.DefaultServiceAccount
	subjects, oidc := "", ""
	if is := b.oidc; is != nil {
		subjects = fmt.Sprintf(", subjects: [%q]", is.owner())
		oidc = fmt.Sprintf(oidcConfigText, is.audience, is.name, is.url(), is.caFile)
	}
	text := fmt.Sprintf(configText, grpcAddr, httpAddr, b.dsn, b.emu.URL, sa, subjects, shortTTL, sa, sha256Hex(b.apiKey), oidc)
	cfg, err := config.ParseWith("exectest", []byte(text), config.Options{
		LookupEnv: func(k string) (string, bool) { v, ok := b.secrets[k]; return v, ok },
	})
	if err != nil {
		b.t.Fatalf("config: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	log := slog.New(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.Config{
		File: cfg, Logger: log, TracerProvider: noop.NewTracerProvider(), ShutdownTimeout: 5 * time.Second,
	}.Complete(ctx)
	if err != nil {
		cancel()
		b.t.Fatalf("complete: %v", err)
	}
	b.grpcAddr, b.httpAddr = srv.GRPCAddr(), srv.HTTPAddr()
	b.cancel, b.done = cancel, make(chan error, 1)
	go func() { b.done <- srv.Run(ctx) }()
}

// stop cancels Run and waits for it to return; it does nothing when the
// broker is not running.
func (b *liveBroker) stop() {
	b.t.Helper()
	if b.cancel == nil {
		return
	}
	b.cancel()
	if err := <-b.done; err != nil {
		b.t.Errorf("broker Run returned %v", err)
	}
	b.cancel, b.done = nil, nil
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
