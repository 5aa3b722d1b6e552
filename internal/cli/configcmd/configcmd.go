package configcmd

import (
	"github.com/spf13/cobra"

	"github.com/ztbroker/ztbroker/internal/cli/cmdtree"
)

// Command is "broker config", which holds init and check.
func Command(getenv func(string) string) *cobra.Command {
	g := cmdtree.Group(&cobra.Command{
		Use:   "config",
		Short: "Write a starting configuration, or check one",
		Long: `Tools for the configuration file that serve and migrate read: init writes a
commented starting point, check validates a file as serve would and prints
what serve would run with.`,
		Example: `  broker config init --seal-key-file seal.key --api-key-file ci.key > broker.yaml
  broker config check broker.yaml`,
	})
	g.AddCommand(initCmd(), checkCmd(getenv))
	return g
}
