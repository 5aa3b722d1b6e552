package cli

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"

	"github.com/ztbroker/ztbroker/internal/cli/cmdtree"
)

// askTimeout bounds each request; waitInterval paces --wait's retries.
const (
	askTimeout   = 5 * time.Second
	waitInterval = 250 * time.Millisecond
)

// healthcheck exists because the container image has no shell or curl
// for a compose healthcheck to call.
func healthcheckCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "healthcheck [--url URL] [--wait D]",
		Short: "Exit 0 when the broker answers its readiness URL",
		Long: `Asks a broker's /readyz and exits 0 when it answers 200, 1 when it does not (or
not within 5 seconds), 2 on a malformed URL. The container image has no shell
or curl, so compose and Kubernetes exec probes call this. With --wait it keeps
asking, four times a second, until the answer is 200 or the duration has
passed: for scripts that start a broker and then use it.`,
		Example: `  broker healthcheck
  broker healthcheck --url http://127.0.0.1:8081/readyz
  broker healthcheck --wait 30s && broker token issue --purpose deploy`,
		Args: cmdtree.NoArgs,
	}
	url := c.Flags().String("url", "http://127.0.0.1:8080/readyz", "readiness `URL`")
	wait := c.Flags().Duration("wait", 0, "keep asking until ready or this `duration` has passed (0: ask once)")
	c.RunE = func(c *cobra.Command, _ []string) error {
		return cmdtree.Exit(healthcheck(c.Context(), *url, *wait, c.ErrOrStderr()))
	}
	return c
}

func healthcheck(ctx context.Context, url string, wait time.Duration, stderr io.Writer) int {
	if _, err := http.NewRequest(http.MethodGet, url, nil); err != nil {
		fmt.Fprintf(stderr, "healthcheck: %v\n", err)
		return 2
	}
	hc := &http.Client{Timeout: askTimeout}
	ctx, cancel := context.WithTimeout(ctx, max(wait, askTimeout))
	defer cancel()
	tick := time.NewTicker(waitInterval)
	defer tick.Stop()
	for {
		err := ask(ctx, hc, url)
		if err == nil {
			return 0
		}
		if wait <= 0 {
			fmt.Fprintf(stderr, "healthcheck: %v\n", err)
			return 1
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			fmt.Fprintf(stderr, "healthcheck: not ready within %s: %v\n", wait, err)
			return 1
		}
	}
}

func ask(ctx context.Context, hc *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s", resp.Status)
	}
	return nil
}
