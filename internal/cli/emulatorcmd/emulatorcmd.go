package emulatorcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ztbroker/ztbroker/internal/cli/cmdtree"

	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// shutdownGrace bounds how long Run waits for requests in flight.
const shutdownGrace = 5 * time.Second

// Run runs "broker emulator" with args, as the broker binary would: for
// tests. See Command.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	root := &cobra.Command{Use: "broker"}
	root.AddCommand(Command(os.Getenv))
	return cmdtree.Run(ctx, root, append([]string{"emulator"}, args...), stdout, stderr)
}

// flags are the emulator's settings from the command line.
type flags struct {
	addr, adminToken, legacyUser, adminAccount string
	accounts, faults, networks                 []string
	rateLimit                                  float64
	deleteMissing, unknownRoute                int
	removeExpired, retryAfter, lastUsed        bool
	adminLifetime, clockOffset                 time.Duration
}

// Command is "broker emulator". It serves until its context is cancelled,
// then shuts down gracefully; it exits 0 on a clean stop, 2 on bad flags,
// 1 when it cannot serve. getenv reads the admin token's variable.
func Command(getenv func(string) string) *cobra.Command {
	c := &cobra.Command{
		Use:   "emulator [flags]",
		Short: "Run the ZeroTier Central emulator alone (New Central and Legacy)",
		Long: `Serves a fake ZeroTier Central: New Central under /api/v2 (service accounts and
their API keys, networks, members) and Legacy Central under /api/v1 (user
tokens), with the admin credential --admin-token. Point a broker's upstreams at
it to try serve without a ZeroTier account, or inject faults and choose how it
behaves where Central's behaviour is unknown, to see how the broker copes. It
prints "emulator listening on http://ADDR" once it serves.`,
		Example: `  ` + emulator.AdminTokenEnv + `=$(openssl rand -hex 24) broker emulator --addr 127.0.0.1:8089 --service-account sa-local
  broker emulator --admin-token secret --network 8056c2e21c000001:lab,deadbeef00+
  broker emulator --admin-token secret --fault v2.apiKey.delete=status=503,rate=0.5 --delete-missing-status 403`,
		Args: cmdtree.NoArgs,
	}
	var f flags
	fs := c.Flags()
	fs.SortFlags = false
	fs.StringVar(&f.addr, "addr", "127.0.0.1:8089", "listen address `host:port` (port 0 picks one)")
	fs.StringVar(&f.adminToken, "admin-token", "", "admin credential that the broker's admin key or token must equal (env "+emulator.AdminTokenEnv+")")
	fs.StringArrayVar(&f.accounts, "service-account", nil, "New Central service account `id` to seed, repeatable (default "+emulator.DefaultServiceAccount+")")
	fs.StringVar(&f.legacyUser, "legacy-user", emulator.DefaultLegacyUser, "Legacy user `id` to seed")
	fs.Float64Var(&f.rateLimit, "rate-limit", 0, "global requests per second before 429 (0: none)")
	fs.StringArrayVar(&f.faults, "fault", nil, "`route=spec` fault to inject, e.g. v2.apiKey.delete=status=503,rate=0.5; repeatable")
	fs.StringArrayVar(&f.networks, "network", nil, "network to seed, `ID[:NAME][,MEMBER[+]]...` (+ authorises the member); repeatable")
	fs.IntVar(&f.deleteMissing, "delete-missing-status", 404, "status for a missing New Central key: 404 or 403")
	fs.BoolVar(&f.removeExpired, "remove-expired", false, "drop expired New Central keys from listings")
	fs.StringVar(&f.adminAccount, "admin-service-account", "", "service account holding the admin key (default: the first --service-account)")
	fs.DurationVar(&f.adminLifetime, "admin-key-lifetime", emulator.DefaultAdminKeyLifetime, "how long after start the admin key expires")
	fs.IntVar(&f.unknownRoute, "unknown-route-status", 404, "status for a request no route matches: 404 (as Central) or 501")
	fs.BoolVar(&f.retryAfter, "retry-after", false, "send Retry-After on 429s, which no source shows Central doing")
	fs.DurationVar(&f.clockOffset, "clock-offset", 0, "run the emulator's clock (Date header, key expiry) this far ahead of the host's")
	fs.BoolVar(&f.lastUsed, "last-used", true, "stamp a key's lastUsed on every request (false: never)")
	c.RunE = func(c *cobra.Command, _ []string) error {
		if f.adminToken == "" {
			f.adminToken = getenv(emulator.AdminTokenEnv)
		}
		return cmdtree.Exit(run(c.Context(), f, c.OutOrStdout(), c.ErrOrStderr()))
	}
	return c
}

func run(ctx context.Context, f flags, stdout, stderr io.Writer) int {
	if len(f.accounts) == 0 {
		f.accounts = []string{emulator.DefaultServiceAccount}
	}
	opts := []emulator.Option{
		emulator.WithAdminToken(f.adminToken), emulator.WithServiceAccounts(f.accounts...), emulator.WithLegacyUsers(f.legacyUser),
		emulator.WithRateLimit(f.rateLimit), emulator.WithDeleteMissingStatus(f.deleteMissing), emulator.WithRemoveExpiredKeys(f.removeExpired),
		emulator.WithAdminKeyLifetime(f.adminLifetime), emulator.WithUnknownRouteStatus(f.unknownRoute),
		emulator.WithClockOffset(f.clockOffset), emulator.WithLastUsed(f.lastUsed),
	}
	if f.adminAccount != "" {
		opts = append(opts, emulator.WithAdminServiceAccount(f.adminAccount))
	}
	if f.retryAfter {
		opts = append(opts, emulator.WithThrottleHeaders(emulator.ThrottleBoth))
	}
	for _, n := range f.networks {
		seed, err := emulator.ParseNetworkSeed(n)
		if err != nil {
			fmt.Fprintf(stderr, "emulator: --network %q: %v\n", n, err)
			return 2
		}
		opts = append(opts, emulator.WithNetworks(seed))
	}
	for _, spec := range f.faults {
		route, rule, ok := strings.Cut(spec, "=")
		if !ok {
			fmt.Fprintf(stderr, "emulator: --fault %q: want route=spec\n", spec)
			return 2
		}
		fault, err := emulator.ParseFault(rule)
		if err != nil {
			fmt.Fprintf(stderr, "emulator: --fault: %v\n", err)
			return 2
		}
		opts = append(opts, emulator.WithFault(route, fault))
	}
	s, err := emulator.New(opts...)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 2
	}
	return serve(ctx, s, f.addr, stdout, stderr)
}

func serve(ctx context.Context, s *emulator.Server, addr string, stdout, stderr io.Writer) int {
	ln, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		fmt.Fprintf(stderr, "emulator: listen: %v\n", err)
		return 1
	}
	srv := &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	fmt.Fprintf(stdout, "emulator listening on http://%s\n", ln.Addr())

	select {
	case err := <-errc:
		fmt.Fprintf(stderr, "emulator: serve: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	s.Close()
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	code := 0
	if err := srv.Shutdown(shutdownCtx); err != nil {
		fmt.Fprintf(stderr, "emulator: shutdown: %v\n", err)
		code = 1
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		fmt.Fprintf(stderr, "emulator: serve: %v\n", err)
		code = 1
	}
	return code
}
