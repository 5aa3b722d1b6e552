package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/ztbroker/ztbroker/internal/cli/clientcmd"
	"github.com/ztbroker/ztbroker/internal/cli/emulatorcmd"
	"github.com/ztbroker/ztbroker/internal/cli/policycmd"
)

// IO is what a command takes from its process.
type IO struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
}

// OS returns the process's own streams and environment.
func OS() IO { return IO{Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv} }

const usage = `broker: short-lived ZeroTier Central API tokens, leased and revoked.

Server commands:
  broker serve --config FILE     run the broker against PostgreSQL and ZeroTier
  broker migrate --config FILE   apply database migrations and exit
  broker dev [flags]             run everything in one process: emulator,
                                 in-memory store, purposes dev and dev-legacy
  broker emulator [flags]        run the ZeroTier Central emulator alone
  broker policy test ...         dry-run a purpose's policy for an identity
  broker healthcheck [--url U]   exit 0 when the broker answers /readyz

Client commands (speak gRPC to a running broker):
  broker token issue|get|list|renew|revoke ...
  broker exec --purpose P -- cmd args...
  broker agent --purpose P --sink file:PATH [--exec CMD] ...
  broker admin revoke|forget|audit|upstreams|rotate-upstream-key ...

Run "broker COMMAND -h" for a command's flags.
`

// Main runs the subcommand named by args[0] and returns the exit code.
func Main(ctx context.Context, args []string, io IO) int {
	if len(args) == 0 {
		fmt.Fprint(io.Stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "token", "exec", "agent", "admin":
		// The client commands own their signals: exec forwards them to
		// its child instead of dying on the first one.
		env, stop := clientcmd.OSEnv()
		defer stop()
		env.Stdout, env.Stderr, env.Getenv = io.Stdout, io.Stderr, io.Getenv
		switch cmd {
		case "token":
			return clientcmd.Token(ctx, rest, env)
		case "exec":
			return clientcmd.Exec(ctx, rest, env)
		case "agent":
			return clientcmd.Agent(ctx, rest, env)
		default:
			return clientcmd.Admin(ctx, rest, env)
		}
	case "policy":
		return policycmd.Run(rest, io.Stdout, io.Stderr)
	case "healthcheck":
		return healthcheck(ctx, rest, io)
	case "help", "-h", "--help":
		fmt.Fprint(io.Stdout, usage)
		return 0
	}

	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	switch cmd {
	case "serve":
		return serve(ctx, rest, io)
	case "migrate":
		return migrateCmd(ctx, rest, io)
	case "dev":
		return dev(ctx, rest, io)
	case "emulator":
		return emulatorcmd.Run(ctx, rest, io.Stdout, io.Stderr)
	}
	fmt.Fprintf(io.Stderr, "broker: unknown command %q\n\n%s", cmd, usage)
	return 2
}
