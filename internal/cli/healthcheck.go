package cli

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/ztbroker/ztbroker/internal/cli/cmdtree"
)

// healthcheck exists because the container image has no shell or curl
// for a compose healthcheck to call.
func healthcheckCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "healthcheck [--url URL]",
		Short: "Exit 0 when the broker answers its readiness URL",
		Long: `Asks a broker's /readyz and exits 0 when it answers 200, 1 when it does not (or
not within 5 seconds), 2 on a malformed URL. The container image has no shell
or curl, so compose and Kubernetes exec probes call this.`,
		Example: `  broker healthcheck
  broker healthcheck --url http://127.0.0.1:8081/readyz`,
		Args: cmdtree.NoArgs,
	}
	url := c.Flags().String("url", "http://127.0.0.1:8080/readyz", "readiness `URL`")
	c.RunE = func(c *cobra.Command, _ []string) error {
		return cmdtree.Exit(healthcheck(c.Context(), *url, c))
	}
	return c
}

func healthcheck(ctx context.Context, url string, c *cobra.Command) int {
	stderr := c.ErrOrStderr()
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 2
	}
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "healthcheck: %s\n", resp.Status)
		return 1
	}
	return 0
}
