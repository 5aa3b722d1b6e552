package cmdtree

import (
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// helpTemplate puts what a reader needs first: the synopsis, what the
// command does, how it is used, then its flags with their variables.
const helpTemplate = `Usage: {{.UseLine}}
{{with (or .Long .Short)}}
{{. | trimTrailingWhitespaces}}
{{end}}{{if .HasExample}}
Examples:
{{.Example}}
{{end}}{{if .HasAvailableSubCommands}}{{$cmds := .Commands}}{{if eq (len .Groups) 0}}
Commands:{{range $cmds}}{{if (or .IsAvailableCommand (eq .Name "help"))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}
{{else}}{{range $group := .Groups}}
{{.Title}}{{range $cmds}}{{if (and (eq .GroupID $group.ID) (or .IsAvailableCommand (eq .Name "help")))}}
  {{rpad .Name .NamePadding }} {{.Short}}{{end}}{{end}}
{{end}}{{end}}{{end}}{{if .HasAvailableLocalFlags}}
Flags:
{{.LocalFlags.FlagUsages | trimTrailingWhitespaces}}
{{end}}{{if .HasAvailableInheritedFlags}}
Global flags:
{{.InheritedFlags.FlagUsages | trimTrailingWhitespaces}}
{{end}}{{if .HasAvailableSubCommands}}
Run "{{.CommandPath}} COMMAND --help" for a command's flags and examples.
{{end}}`

// Prepare sets the shared behaviour on root and everything beneath it:
// the help layout, no cobra-printed errors or usage dumps (Run reports
// errors on one line), and flag mistakes as usage errors naming the
// command.
func Prepare(root *cobra.Command) {
	root.SetHelpTemplate(helpTemplate)
	root.SilenceErrors = true
	root.SilenceUsage = true
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return Usagef("%s: %v (see --help)", Path(c), err)
	})
	Walk(root, func(c *cobra.Command) {
		c.SilenceErrors, c.SilenceUsage = true, true
	})
}

// Path is the command's path without the binary's name: "token issue".
func Path(c *cobra.Command) string {
	p := c.CommandPath()
	if _, rest, ok := strings.Cut(p, " "); ok {
		return rest
	}
	return p
}

// Walk calls fn for c and every command beneath it, cobra's own help and
// completion commands included.
func Walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		Walk(sub, fn)
	}
}

// Group makes c a command that only holds subcommands: without one it is
// a usage error, and an unknown name is refused rather than answered with
// help and exit 0, cobra's default for a command that has no Run.
func Group(c *cobra.Command) *cobra.Command {
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return Usagef("%s: missing command (see %s --help)", Path(c), c.CommandPath())
		}
		if args[0] == "help" {
			return c.Help()
		}
		return Usagef("%s: unknown command %q (see %s --help)", Path(c), args[0], c.CommandPath())
	}
	return c
}

// NoArgs refuses positional arguments with a usage error that names the
// first one.
func NoArgs(c *cobra.Command, args []string) error {
	if len(args) > 0 {
		return Usagef("%s: unexpected argument %q (see --help)", Path(c), args[0])
	}
	return nil
}

// EnvDefault fills a flag the command line did not set from its
// environment variable, so that --help can show the variable while the
// flag's own default stays the documented one.
func EnvDefault(fs *pflag.FlagSet, flag, value string) error {
	if value == "" || fs.Changed(flag) {
		return nil
	}
	return fs.Set(flag, value)
}
