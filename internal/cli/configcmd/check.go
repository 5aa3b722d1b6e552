package configcmd

import (
	"fmt"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"

	"github.com/ztbroker/ztbroker/internal/cli/cmdtree"
	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/server"
)

func checkCmd(getenv func(string) string) *cobra.Command {
	c := &cobra.Command{
		Use:   "check FILE",
		Short: "Validate a configuration and print the effective one",
		Long: `Loads FILE exactly as serve would, secrets included (so run it where serve
runs, with the same variables and files), and reports every problem with its
key, or prints the configuration serve would run with: every default filled in,
secrets shown only as set or unset, the database URL hidden. Start-up warnings
(plaintext listeners, readable secret files, short keys) go to stderr.

--skip-secrets checks that each secret is named but reads none, for checking a
file where the broker's secrets are not available (CI, a laptop).

Exits 0 when the configuration is valid, 2 when it is not.`,
		Example: `  broker config check /etc/ztbroker/broker.yaml
  broker config check --skip-secrets deploy/broker.yaml`,
		Args: cobra.ArbitraryArgs,
	}
	skip := c.Flags().Bool("skip-secrets", false, "do not read secrets, only check that each is configured")
	c.RunE = func(c *cobra.Command, args []string) error {
		if len(args) != 1 {
			return cmdtree.Usagef("config check: name one configuration file (see --help)")
		}
		lookup := func(k string) (string, bool) { v := getenv(k); return v, v != "" }
		cfg, err := server.LoadConfig(args[0], config.Options{SkipSecrets: *skip, LookupEnv: lookup})
		if err != nil {
			return &cmdtree.UsageError{Msg: fmt.Sprintf("config check: %s is invalid:\n%v", args[0], err)}
		}
		for _, w := range cfg.Warnings() {
			fmt.Fprintf(c.ErrOrStderr(), "warning: %s\n", w)
		}
		out, err := yaml.Marshal(cfg.Redacted())
		if err != nil {
			return fmt.Errorf("config check: %w", err)
		}
		_, err = fmt.Fprintf(c.OutOrStdout(), "# %s is valid; serve would run with:\n%s", args[0], out)
		return err
	}
	return c
}
