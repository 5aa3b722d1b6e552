package cli

import (
	"context"
	"flag"
	"fmt"
	"net/http"
	"time"
)

// healthcheck exists because the container image has no shell or curl
// for a compose healthcheck to call.
func healthcheck(ctx context.Context, args []string, io IO) int {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	fs.SetOutput(io.Stderr)
	url := fs.String("url", "http://127.0.0.1:8080/readyz", "readiness URL")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		fmt.Fprintf(io.Stderr, "healthcheck: %v\n", err)
		return 2
	}
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		fmt.Fprintf(io.Stderr, "healthcheck: %v\n", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(io.Stderr, "healthcheck: %s\n", resp.Status)
		return 1
	}
	return 0
}
