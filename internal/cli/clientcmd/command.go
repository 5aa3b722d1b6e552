package clientcmd

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// command is one subcommand's flag set plus the text its --help shows.
type command struct {
	name     string
	synopsis string
	fs       *flag.FlagSet
	conn     connFlags
	// takesArgs admits positional arguments after the flags.
	takesArgs bool
	// about is a paragraph --help shows before the flags.
	about string
}

func newCommand(name, synopsis string) *command {
	c := &command{name: name, synopsis: synopsis, fs: flag.NewFlagSet(name, flag.ContinueOnError)}
	// The flag package's own reporting prints several lines; parse reports
	// instead, in one.
	c.fs.SetOutput(io.Discard)
	c.conn.register(c.fs)
	return c
}

// parse reads args. When it returns done, the command is over and code is
// its exit code: --help was shown, or the command line was wrong.
func (c *command) parse(args []string, env Env) (cfg connConfig, code int, done bool) {
	if err := c.fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			c.help(env.Stdout)
			return cfg, ExitOK, true
		}
		return cfg, fail(env, usagef("%s: %v (see --help)", c.name, err)), true
	}
	if !c.takesArgs && c.fs.NArg() > 0 {
		return cfg, fail(env, usagef("%s: unexpected argument %q (see --help)", c.name, c.fs.Arg(0))), true
	}
	cfg, err := c.conn.resolve(c.fs, env)
	if err != nil {
		return cfg, fail(env, fmt.Errorf("%s: %w", c.name, err)), true
	}
	return cfg, ExitOK, false
}

func (c *command) help(w io.Writer) {
	fmt.Fprintf(w, "Usage: broker %s\n\n", c.synopsis)
	if c.about != "" {
		fmt.Fprintf(w, "%s\n\n", c.about)
	}
	fmt.Fprintf(w, "Flags:\n")
	c.fs.SetOutput(w)
	c.fs.PrintDefaults()
	c.fs.SetOutput(io.Discard)
	fmt.Fprintf(w, "\nWithout --tls-* flags, a loopback or unix: address is reached in plaintext and\n"+
		"any other address over TLS with the system roots (--insecure forces plaintext).\n\n%s\n", exitCodeHelp)
}

// labelFlag collects repeated --label key=value flags.
type labelFlag struct {
	keys   []string
	values map[string]string
}

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

// dispatch runs the subcommand args[0] names.
func dispatch(group string, args []string, env Env, subs map[string]func([]string) int, usage string) int {
	if len(args) == 0 {
		return fail(env, usagef("%s: missing command (see broker %s --help)", group, group))
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintf(env.Stdout, "Usage:\n%s\nRun \"broker %s <command> --help\" for a command's flags.\n", usage, group)
		return ExitOK
	}
	run, ok := subs[args[0]]
	if !ok {
		return fail(env, usagef("%s: unknown command %q (see broker %s --help)", group, args[0], group))
	}
	return run(args[1:])
}
