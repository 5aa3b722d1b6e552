package cli

import (
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/ztbroker/ztbroker/internal/cli/cmdtree"
)

func versionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the broker's version and the commit it was built from",
		Long: `Prints the module version (a tag for "go install ...@vX", "(devel)" for a build
from a checkout), the VCS revision and time the binary was built from, whether
the work tree had uncommitted changes, and the Go version.`,
		Example: `  broker version`,
		Args:    cmdtree.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			info, ok := debug.ReadBuildInfo()
			if !ok {
				return fmt.Errorf("version: the binary carries no build information")
			}
			return writeVersion(c.OutOrStdout(), info)
		},
	}
}

// writeVersion prints what `go version -m` would say that matters to a
// bug report.
func writeVersion(w io.Writer, info *debug.BuildInfo) error {
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	rev := settings["vcs.revision"]
	if rev == "" {
		rev = "unknown (built without VCS information)"
	} else if settings["vcs.modified"] == "true" {
		rev += " (modified)"
	}
	built := settings["vcs.time"]
	if built == "" {
		built = "unknown"
	}
	_, err := fmt.Fprintf(w, "broker %s\nmodule   %s\nrevision %s\ncommit time %s\ngo       %s\n",
		info.Main.Version, info.Main.Path, rev, built, info.GoVersion)
	return err
}

func completionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "completion bash|zsh|fish",
		Short: "Print a shell completion script",
		Long: `Prints the script that makes bash, zsh or fish complete broker's commands and
flags. Load it in the current shell, or install it where your shell looks for
completions.`,
		Example: `  source <(broker completion bash)
  broker completion bash > /etc/bash_completion.d/broker
  broker completion zsh > "${fpath[1]}/_broker"
  broker completion fish > ~/.config/fish/completions/broker.fish`,
		ValidArgs: []string{"bash", "zsh", "fish"},
		Args:      cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, args []string) error {
			if len(args) != 1 {
				return cmdtree.Usagef("completion: name one shell: bash, zsh or fish")
			}
			out, root := c.OutOrStdout(), c.Root()
			switch args[0] {
			case "bash":
				return root.GenBashCompletionV2(out, true)
			case "zsh":
				return root.GenZshCompletion(out)
			case "fish":
				return root.GenFishCompletion(out, true)
			}
			return cmdtree.Usagef("completion: %q is not bash, zsh or fish", args[0])
		},
	}
}
