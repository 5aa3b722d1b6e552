package emulatorcmd

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// shutdownGrace bounds how long Run waits for requests in flight.
const shutdownGrace = 5 * time.Second

type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

// Run is the "broker emulator" command. It serves until ctx is cancelled,
// then shuts down gracefully, and returns the process exit code: 0 on a
// clean stop, 2 on bad flags, 1 when it cannot serve.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:8089", "listen address HOST:PORT (port 0 picks one)")
	adminToken := fs.String("admin-token", "", "admin credential (default $"+emulator.AdminTokenEnv+")")
	var accounts, faults, networks repeated
	fs.Var(&accounts, "service-account", "New Central service account id to seed (repeatable)")
	legacyUser := fs.String("legacy-user", emulator.DefaultLegacyUser, "Legacy user id to seed")
	rateLimit := fs.Float64("rate-limit", 0, "global requests per second before 429 (0: none)")
	fs.Var(&faults, "fault", "route=spec fault to inject, e.g. v2.apiKey.delete=status=503,rate=0.5 (repeatable)")
	fs.Var(&networks, "network", "network to seed, ID[:NAME][,MEMBER[+]]... (+ authorises the member; repeatable)")
	deleteMissing := fs.Int("delete-missing-status", 404, "status for a missing New Central key: 404 or 403")
	removeExpired := fs.Bool("remove-expired", false, "drop expired New Central keys from listings")
	adminAccount := fs.String("admin-service-account", "", "service account holding the admin key (default: the first --service-account)")
	adminLifetime := fs.Duration("admin-key-lifetime", emulator.DefaultAdminKeyLifetime, "how long after start the admin key expires")
	unknownRoute := fs.Int("unknown-route-status", 404, "status for a request no route matches: 404 (as Central) or 501")
	retryAfter := fs.Bool("retry-after", false, "send Retry-After on 429s, which no source shows Central doing")
	clockOffset := fs.Duration("clock-offset", 0, "run the emulator's clock (Date header, key expiry) this far ahead of the host's")
	lastUsed := fs.Bool("last-used", true, "stamp a key's lastUsed on every request (false: never)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "emulator: unexpected arguments %q\n", fs.Args())
		return 2
	}
	if *adminToken == "" {
		*adminToken = os.Getenv(emulator.AdminTokenEnv)
	}
	if len(accounts) == 0 {
		accounts = repeated{emulator.DefaultServiceAccount}
	}
	opts := []emulator.Option{
		emulator.WithAdminToken(*adminToken), emulator.WithServiceAccounts(accounts...), emulator.WithLegacyUsers(*legacyUser),
		emulator.WithRateLimit(*rateLimit), emulator.WithDeleteMissingStatus(*deleteMissing), emulator.WithRemoveExpiredKeys(*removeExpired),
		emulator.WithAdminKeyLifetime(*adminLifetime), emulator.WithUnknownRouteStatus(*unknownRoute),
		emulator.WithClockOffset(*clockOffset), emulator.WithLastUsed(*lastUsed),
	}
	if *adminAccount != "" {
		opts = append(opts, emulator.WithAdminServiceAccount(*adminAccount))
	}
	if *retryAfter {
		opts = append(opts, emulator.WithThrottleHeaders(emulator.ThrottleBoth))
	}
	for _, n := range networks {
		seed, err := emulator.ParseNetworkSeed(n)
		if err != nil {
			fmt.Fprintf(stderr, "emulator: --network %q: %v\n", n, err)
			return 2
		}
		opts = append(opts, emulator.WithNetworks(seed))
	}
	for _, f := range faults {
		route, spec, ok := strings.Cut(f, "=")
		if !ok {
			fmt.Fprintf(stderr, "emulator: --fault %q: want route=spec\n", f)
			return 2
		}
		fault, err := emulator.ParseFault(spec)
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
	return serve(ctx, s, *addr, stdout, stderr)
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
