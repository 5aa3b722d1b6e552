package cli

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ztbroker/ztbroker/internal/cli/clientcmd"
	"github.com/ztbroker/ztbroker/internal/cli/cmdtree"
	"github.com/ztbroker/ztbroker/internal/cli/configcmd"
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

// Command groups, as the root's help lists them.
const (
	groupServer = "server"
	groupClient = "client"
	groupSetup  = "setup"
)

// ownSignals marks the commands that subscribe to signals themselves:
// exec forwards them to its child instead of dying on the first one.
const ownSignals = "ztbroker/own-signals"

// Main runs the command args name and returns the process exit code.
func Main(ctx context.Context, args []string, io IO) int {
	root := NewRoot(io)
	if cmd, _, err := root.Find(args); err != nil || !ownsSignals(cmd) {
		var stop context.CancelFunc
		ctx, stop = signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
		defer stop()
	}
	return cmdtree.Run(ctx, root, args, io.Stdout, io.Stderr)
}

func ownsSignals(c *cobra.Command) bool {
	for ; c != nil; c = c.Parent() {
		if c.Annotations[ownSignals] != "" {
			return true
		}
	}
	return false
}

// NewRoot returns the whole command tree of the broker binary.
func NewRoot(io IO) *cobra.Command {
	root := &cobra.Command{
		Use:   "broker COMMAND",
		Short: "Short-lived ZeroTier Central API tokens, leased and revoked",
		Long: `ztbroker leases short-lived ZeroTier Central API tokens to services and CI jobs
over gRPC and REST, records each lease in PostgreSQL, and revokes the token
upstream when the lease ends. This one binary is the server, its development
mode, a ZeroTier emulator, the configuration tools and the client.

Client commands read their connection settings from BROKER_* variables (see
each command's --help), so CI configures them once per job.`,
		Example: `  broker dev                                   # everything in one process, nothing to set up
  broker config init --seal-key-file seal.key --api-key-file ci.key > broker.yaml
  broker serve --config broker.yaml
  BROKER_API_KEY_FILE=ci.key broker token issue --purpose deploy`,
		Args: cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) == 0 {
				c.SetOut(c.ErrOrStderr())
				_ = c.Help()
				return cmdtree.Exit(cmdtree.ExitUsage)
			}
			return cmdtree.Usagef("unknown command %q (see broker --help)", args[0])
		},
		CompletionOptions: cobra.CompletionOptions{DisableDefaultCmd: true},
	}
	root.AddGroup(
		&cobra.Group{ID: groupServer, Title: "Server commands:"},
		&cobra.Group{ID: groupClient, Title: "Client commands (speak gRPC to a running broker):"},
		&cobra.Group{ID: groupSetup, Title: "Setting up:"},
	)
	add := func(group string, cmds ...*cobra.Command) {
		for _, c := range cmds {
			c.GroupID = group
			root.AddCommand(c)
		}
	}
	add(groupServer, serveCmd(io), migrateCmd(io), devCmd(io), emulatorcmd.Command(io.Getenv), healthcheckCmd())
	client := clientcmd.Commands(func() (clientcmd.Env, func()) {
		env, stop := clientcmd.OSEnv()
		env.Stdout, env.Stderr, env.Getenv = io.Stdout, io.Stderr, io.Getenv
		return env, stop
	})
	for _, c := range client {
		c.Annotations = map[string]string{ownSignals: "yes"}
	}
	add(groupClient, client...)
	add(groupSetup, configcmd.Command(io.Getenv), policycmd.Command(), versionCmd(), completionCmd())
	root.InitDefaultHelpCmd()
	for _, c := range root.Commands() {
		if c.Name() == "help" {
			c.Example = "  broker help serve\n  broker help token issue"
			c.Long = "Shows the help of any command: what it does, examples, its flags and their\nenvironment variables."
		}
	}
	root.SetHelpCommandGroupID(groupSetup)
	cmdtree.Prepare(root)
	return root
}
