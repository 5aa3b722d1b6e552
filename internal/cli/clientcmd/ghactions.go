package clientcmd

import (
	"fmt"
	"io"
	"os"
	"strings"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// ghFiles are the GitHub Actions files a step hands values on through.
type ghFiles struct{ output, env string }

func githubFiles(getenv func(string) string) (ghFiles, error) {
	f := ghFiles{output: getenv("GITHUB_OUTPUT"), env: getenv("GITHUB_ENV")}
	if f.output == "" || f.env == "" {
		return f, usagef("--format github needs GITHUB_OUTPUT and GITHUB_ENV; it only works inside a GitHub Actions step")
	}
	return f, nil
}

// writeGitHub masks the token in the job log, then hands it and the lease
// details to later steps as step outputs and environment variables. The
// mask goes out first so that nothing printed afterwards can show the
// token; the token itself is never printed.
func (f ghFiles) write(stdout io.Writer, resp *ztbrokerv1.IssueTokenResponse) error {
	// The runner masks line by line.
	for _, line := range strings.Split(resp.GetToken(), "\n") {
		if line = strings.TrimRight(line, "\r"); line != "" {
			if _, err := fmt.Fprintf(stdout, "::add-mask::%s\n", line); err != nil {
				return fmt.Errorf("write mask command: %w", err)
			}
		}
	}
	outputs := [][2]string{
		{"lease_id", resp.GetLease().GetId()},
		{"api_base_url", resp.GetApiBaseUrl()},
		{"auth_scheme", resp.GetAuthScheme()},
		{"token", resp.GetToken()},
	}
	if err := appendGitHubFile(f.output, outputs); err != nil {
		return fmt.Errorf("write GITHUB_OUTPUT: %w", err)
	}
	if err := appendGitHubFile(f.env, leaseVars(resp, envToken)); err != nil {
		return fmt.Errorf("write GITHUB_ENV: %w", err)
	}
	return nil
}

// appendGitHubFile appends name<<DELIM / value / DELIM records in one
// write. The delimiter is random and checked against every value, so no
// value can end its record early and inject another variable.
func appendGitHubFile(path string, kvs [][2]string) error {
	var b strings.Builder
	for _, kv := range kvs {
		delim := heredocDelimiter(kv[1])
		fmt.Fprintf(&b, "%s<<%s\n%s\n%s\n", kv[0], delim, kv[1], delim)
	}
	fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(fh, b.String()); err != nil {
		fh.Close()
		return err
	}
	return fh.Close()
}

func heredocDelimiter(value string) string {
	for {
		d := "ZTBROKER_EOF_" + randomHex(16)
		if !strings.Contains(value, d) {
			return d
		}
	}
}
