package clientcmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/ztbroker/ztbroker/internal/cli/cmdtree"
)

// EnvFunc gives a command its Env when it starts to run, and what to call
// when it ends. Signals are subscribed only then, so that commands of the
// same binary that do not forward them keep the default handling.
type EnvFunc func() (env Env, stop func())

// FixedEnv is an EnvFunc for tests and embedding: env as it is.
func FixedEnv(env Env) EnvFunc { return func() (Env, func()) { return env, func() {} } }

// Commands returns the client commands: token, exec, agent and admin.
func Commands(newEnv EnvFunc) []*cobra.Command {
	return []*cobra.Command{tokenCmd(newEnv), execCmd(newEnv), agentCmd(newEnv), adminCmd(newEnv)}
}

// command is one subcommand: its cobra command, the connection flags
// every client command takes, and how it runs.
type command struct {
	cmd    *cobra.Command
	fs     *pflag.FlagSet
	conn   connFlags
	newEnv EnvFunc
	// takesArgs admits positional arguments after the flags.
	takesArgs bool
	// cancelOnSignal makes the first signal cancel the command; exec and
	// agent handle signals themselves.
	cancelOnSignal bool
}

// connHelp ends every client command's description.
const connHelp = `Without --tls-* flags, a loopback or unix: address is reached in plaintext and
any other address over TLS with the system roots (--insecure forces plaintext).

` + exitCodeHelp

func newCommand(newEnv EnvFunc, use, short, about, example string) *command {
	long := short + "."
	if about != "" {
		long = about
	}
	c := &command{
		cmd: &cobra.Command{
			Use:     use,
			Short:   short,
			Long:    long + "\n\n" + connHelp,
			Example: example,
		},
		newEnv:         newEnv,
		cancelOnSignal: true,
	}
	c.fs = c.cmd.Flags()
	c.fs.SortFlags = false
	c.conn.register(c.fs)
	return c
}

// run sets what the command does once cobra has parsed its flags: the
// connection settings are merged with the environment and checked, then
// fn runs and its result is the exit code.
func (c *command) run(fn func(ctx context.Context, env Env, cfg connConfig, args []string) int) *cobra.Command {
	c.cmd.Args = cobra.ArbitraryArgs
	c.cmd.RunE = func(cmd *cobra.Command, args []string) error {
		env, stop := c.newEnv()
		defer stop()
		name := cmdtree.Path(cmd)
		if !c.takesArgs && len(args) > 0 {
			return cmdtree.Exit(fail(env, usagef("%s: unexpected argument %q (see --help)", name, args[0])))
		}
		cfg, err := c.conn.resolve(c.fs, env)
		if err != nil {
			return cmdtree.Exit(fail(env, fmt.Errorf("%s: %w", name, err)))
		}
		ctx := cmd.Context()
		if c.cancelOnSignal {
			var cancel context.CancelFunc
			ctx, cancel = env.cancelOnSignal(ctx)
			defer cancel()
		}
		return cmdtree.Exit(fn(ctx, env, cfg, args))
	}
	return c.cmd
}

// group is a command that holds subcommands only.
func group(use, short, long, example string, subs ...*cobra.Command) *cobra.Command {
	g := cmdtree.Group(&cobra.Command{Use: use, Short: short, Long: long, Example: example})
	g.AddCommand(subs...)
	return g
}

// runAs runs one of the client commands, named by name, with args, the
// way the broker binary would: for tests and for callers that hold an Env.
func runAs(ctx context.Context, cmd *cobra.Command, args []string, env Env) int {
	root := &cobra.Command{Use: "broker"}
	root.AddCommand(cmd)
	return cmdtree.Run(ctx, root, append([]string{cmd.Name()}, args...), env.Stdout, env.Stderr)
}

// Token runs `broker token <issue|get|list|renew|revoke> ...` with env
// and returns the process exit code.
func Token(ctx context.Context, args []string, env Env) int {
	return runAs(ctx, tokenCmd(FixedEnv(env)), args, env)
}

// Exec runs `broker exec ...` with env; see execCmd.
func Exec(ctx context.Context, args []string, env Env) int {
	return runAs(ctx, execCmd(FixedEnv(env)), args, env)
}

// Agent runs `broker agent ...` with env; see agentCmd.
func Agent(ctx context.Context, args []string, env Env) int {
	return runAs(ctx, agentCmd(FixedEnv(env)), args, env)
}

// Admin runs `broker admin <revoke|forget|audit> ...` with env.
func Admin(ctx context.Context, args []string, env Env) int {
	return runAs(ctx, adminCmd(FixedEnv(env)), args, env)
}

// labelFlag collects repeated --label key=value flags.
type labelFlag struct {
	keys   []string
	values map[string]string
}

func (l *labelFlag) Type() string { return "key=value" }

func (l *labelFlag) String() string {
	parts := make([]string, len(l.keys))
	for i, k := range l.keys {
		parts[i] = k + "=" + l.values[k]
	}
	return strings.Join(parts, ",")
}

func (l *labelFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("label %q is not key=value", s)
	}
	if l.values == nil {
		l.values = map[string]string{}
	}
	if _, dup := l.values[k]; !dup {
		l.keys = append(l.keys, k)
	}
	l.values[k] = v
	return nil
}
