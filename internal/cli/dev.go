package cli

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/ztbroker/ztbroker/internal/cli/cmdtree"

	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/server"
	"github.com/ztbroker/ztbroker/internal/store/memstore"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// Development identities: fixed so the printed examples match what runs.
const (
	devServiceAccount = "sa-dev"
	devLegacyUser     = "user-dev"
	// devNetwork is the emulator's network that dev-scoped may use; a
	// second one, devOtherNetwork, shows what it may not.
	devNetwork      = "8056c2e21c000001"
	devOtherNetwork = "8056c2e21c000002"
	devMember       = "deadbeef00"
	// devStagingOrg is the path the second organisation is served under.
	devStagingOrg = "staging"
)

// devConfig is a real configuration file, parsed and validated like any
// other, so dev mode exercises the same code paths as serve. Secrets are
// supplied through the loader's environment lookup, never the text.
const devConfig = `
listen:
  grpc_addr: %q
  http_addr: %q
log:
  format: text
  level: %s
upstreams:
  - name: dev
    kind: new_central
    base_url: %q
    admin_key_env: DEV_NC_ADMIN_KEY
    service_account_id: %[7]q
  - name: staging
    kind: new_central
    base_url: %[10]q
    admin_key_env: DEV_STAGING_ADMIN_KEY
    service_account_id: %[7]q
  - name: legacy
    kind: legacy
    base_url: %[5]q
    token_env: DEV_LEGACY_TOKEN
    user_id: %[6]q
purposes:
  - name: dev
    description: Development purpose on the emulator's New Central service account.
    default_ttl: 15m
    max_ttl: 1h
    upstream: dev
    allow: {api_keys: [dev]}
  - name: dev-staging
    description: The same on a second organisation, the emulator's staging.
    default_ttl: 15m
    max_ttl: 1h
    upstream: staging
    allow: {api_keys: [dev]}
  - name: dev-legacy
    description: Development purpose on the emulator's Legacy Central user.
    default_ttl: 15m
    max_ttl: 1h
    upstream: legacy
    allow: {api_keys: [dev]}
  - name: dev-scoped
    description: Scoped access through the broker's proxy; may read network %[9]s and authorise its members.
    delivery: proxy
    default_ttl: 15m
    max_ttl: 1h
    upstream: dev
    allow: {api_keys: [dev]}
    scope:
      networks: [%[9]q]
      rules:
        - name: read
          operations: ["GET /api/v2/network", "GET /api/v2/network/{network}", "GET /api/v2/network/{network}/member"]
        - name: authorize
          operations: ["POST /api/v2/network/{network}/member/{member}/authorize"]
auth:
  api_keys:
    - name: dev
      sha256: %[8]q
  admins: ["api_key:dev"]
idempotency:
  seal_key_env: DEV_SEAL_KEY
workers:
  pending_timeout: 30s
  reconcile_interval: 1m
`

func devCmd(io IO) *cobra.Command {
	c := &cobra.Command{
		Use:   "dev [flags]",
		Short: "Run everything in one process: emulator, in-memory store, four purposes",
		Long: `Runs the broker with an in-memory store (nothing persists) against a ZeroTier
emulator in the same process, serving two organisations, with four purposes: dev
(New Central), dev-staging (New Central, the second organisation, upstream
staging), dev-legacy (Legacy Central) and dev-scoped (a proxy purpose limited
to one network). It prints the addresses, an admin API key and commands to
try. Nothing to install or configure; not for production.`,
		Example: `  broker dev
  BROKER_DEV_API_KEY=ztb_dev_fixed broker dev --log-level debug
  broker dev --grpc-addr 127.0.0.1:19090 --http-addr 127.0.0.1:18080`,
		Args: cmdtree.NoArgs,
	}
	fs := c.Flags()
	fs.SortFlags = false
	grpcAddr := fs.String("grpc-addr", "127.0.0.1:9090", "gRPC listen `address`")
	httpAddr := fs.String("http-addr", "127.0.0.1:8080", "REST, metrics and OpenAPI listen `address`")
	emuAddr := fs.String("emulator-addr", "127.0.0.1:0", "ZeroTier emulator listen `address` (port 0 picks one)")
	apiKey := fs.String("api-key", "", "fixed dev API `key` for scripts, instead of a random one (env BROKER_DEV_API_KEY)")
	level := fs.String("log-level", "info", "log `level`: debug, info, warn or error")
	c.RunE = func(c *cobra.Command, _ []string) error {
		if !fs.Changed("api-key") {
			*apiKey = io.Getenv("BROKER_DEV_API_KEY")
		}
		if *apiKey == "" {
			*apiKey = "ztb_dev_" + rand.Text()
		}
		return cmdtree.Exit(dev(c.Context(), io, *grpcAddr, *httpAddr, *emuAddr, *apiKey, *level))
	}
	return c
}

func dev(ctx context.Context, io IO, grpcAddr, httpAddr, emuAddr, apiKey, level string) int {
	adminToken, stagingToken := rand.Text()+rand.Text(), rand.Text()+rand.Text()
	// A second organisation, served under /staging: its own keys and
	// admin credential.
	staging, err := emulator.New(emulator.WithAdminToken(stagingToken), emulator.WithServiceAccounts(devServiceAccount))
	if err != nil {
		fmt.Fprintf(io.Stderr, "broker dev: %v\n", err)
		return 1
	}
	emu, err := emulator.New(
		emulator.WithAdminToken(adminToken),
		emulator.WithServiceAccounts(devServiceAccount),
		emulator.WithLegacyUsers(devLegacyUser),
		emulator.WithNetworks(
			emulator.NetworkSeed{ID: devNetwork, Name: "dev", Members: []emulator.MemberSeed{{ID: devMember, Name: "laptop"}}},
			emulator.NetworkSeed{ID: devOtherNetwork, Name: "prod", Members: []emulator.MemberSeed{{ID: devMember, Name: "laptop"}}},
		),
	)
	if err != nil {
		fmt.Fprintf(io.Stderr, "broker dev: %v\n", err)
		return 1
	}
	emuLis, err := net.Listen("tcp", emuAddr)
	if err != nil {
		fmt.Fprintf(io.Stderr, "broker dev: emulator: %v\n", err)
		return 1
	}
	emuURL := "http://" + emuLis.Addr().String()
	orgs, err := emulator.Organisations(emu, map[string]*emulator.Server{devStagingOrg: staging})
	if err != nil {
		fmt.Fprintf(io.Stderr, "broker dev: %v\n", err)
		return 1
	}
	emuSrv := &http.Server{Handler: orgs, ReadHeaderTimeout: 10 * time.Second}
	emuDone := make(chan error, 1)
	go func() { emuDone <- emuSrv.Serve(emuLis) }()
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		emu.Close() // releases hung fault-injected requests before draining
		staging.Close()
		_ = emuSrv.Shutdown(sctx)
		if err := <-emuDone; err != nil && !errors.Is(err, http.ErrServerClosed) {
			fmt.Fprintf(io.Stderr, "broker dev: emulator: %v\n", err)
		}
	}()

	sum := sha256.Sum256([]byte(apiKey))
	text := fmt.Sprintf(devConfig, grpcAddr, httpAddr, level, emuURL, emuURL+"/api/v1", devLegacyUser,
		devServiceAccount, hex.EncodeToString(sum[:]), devNetwork, emuURL+"/"+devStagingOrg)
	secrets := map[string]string{
		"DEV_NC_ADMIN_KEY":      adminToken,
		"DEV_STAGING_ADMIN_KEY": stagingToken,
		"DEV_LEGACY_TOKEN":      adminToken,
		"DEV_SEAL_KEY":          base64.StdEncoding.EncodeToString(randomBytes(32)),
	}
	cfg, err := server.ParseConfig("broker dev", []byte(text), config.Options{
		LookupEnv:  func(k string) (string, bool) { v, ok := secrets[k]; return v, ok },
		NoDatabase: true, // dev passes the server an in-memory store
	})
	if err != nil {
		fmt.Fprintf(io.Stderr, "broker dev: %v\n", err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(io.Stderr, &slog.HandlerOptions{Level: cfg.Log.SlogLevel()}))
	srv, err := server.Config{File: cfg, Logger: log, Store: memstore.New()}.Complete(ctx)
	if err != nil {
		log.Error("start failed", "err", err)
		return 1
	}
	printDevBanner(io, srv, emuURL, apiKey)
	if err := srv.Run(ctx); err != nil {
		log.Error("server stopped", "err", err)
		return 1
	}
	return 0
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails: crypto/rand crashes the program instead
	return b
}

func printDevBanner(io IO, srv *server.Server, emuURL, key string) {
	g, h := srv.GRPCAddr(), srv.HTTPAddr()
	fmt.Fprintf(io.Stdout, `
ztbroker dev is ready (in-memory store; nothing persists).

  gRPC      %[1]s
  REST      http://%[2]s/v1/   (OpenAPI: http://%[2]s/openapi.json, metrics: /metrics)
  emulator  %[3]s   (fake ZeroTier Central: New Central under /api/v2, Legacy under /api/v1;
            a second organisation, upstream staging, under %[3]s/staging)
  API key   %[4]s
  purposes  dev (New Central), dev-staging (New Central, the staging organisation),
            dev-legacy (Legacy), dev-scoped (proxy: network %[5]s only)

Try it:

  export BROKER_API_KEY=%[4]s
  curl -s -X POST -H "Authorization: Bearer $BROKER_API_KEY" -d '{"ttl":"300s"}' http://%[2]s/v1/purposes/dev/tokens
  curl -s -H "Authorization: Bearer $BROKER_API_KEY" http://%[2]s/v1/leases
  curl -s -H "Authorization: Bearer <token>" %[3]s/api/v2/org          # use the token upstream
  curl -s -X POST -H "Authorization: Bearer $BROKER_API_KEY" -d '{}' http://%[2]s/v1/leases/<lease id>:revoke

  grpcurl -plaintext -H "authorization: Bearer $BROKER_API_KEY" -d '{"purpose":"dev-legacy"}' %[1]s ztbroker.v1.TokenBroker/IssueToken
  grpcurl -plaintext -H "authorization: Bearer $BROKER_API_KEY" %[1]s ztbroker.v1.TokenBroker/ListLeases

  broker token issue --addr %[1]s --purpose dev --format json
  broker exec --addr %[1]s --purpose dev -- sh -c 'curl -s -H "Authorization: Bearer $ZEROTIER_CENTRAL_TOKEN" $ZEROTIER_CENTRAL_URL/api/v2/org'

Scoped access (a broker credential, used through http://%[2]s/zt/dev-scoped):

  broker exec --addr %[1]s --purpose dev-scoped -- sh -c 'curl -s -X POST -H "Authorization: Bearer $ZEROTIER_CENTRAL_TOKEN" $ZEROTIER_CENTRAL_URL/api/v2/network/%[5]s/member/%[6]s/authorize'
  broker exec --addr %[1]s --purpose dev-scoped -- sh -c 'curl -s -H "Authorization: Bearer $ZEROTIER_CENTRAL_TOKEN" $ZEROTIER_CENTRAL_URL/api/v2/network/%[7]s'   # 403

Press Ctrl-C to stop.
`, g, h, emuURL, key, devNetwork, devMember, devOtherNetwork)
}
