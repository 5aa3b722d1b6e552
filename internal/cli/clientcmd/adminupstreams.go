package clientcmd

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

func adminRotate(newEnv EnvFunc) *cobra.Command {
	c := newCommand(newEnv, "rotate-upstream-key --upstream NAME [--reason R] [flags]",
		"Rotate an upstream's admin key now",
		`Makes the broker create a new admin key for the upstream, use it from now on,
and delete the old one once requests in flight with it are done; the broker
also does this by itself before a key expires. The reason is recorded in the
audit log.`,
		`  broker admin rotate-upstream-key --upstream new_central --reason "key seen in a log"`)
	up := c.fs.String("upstream", "", "the upstream whose admin key to rotate, e.g. new_central (required)")
	reason := c.fs.String("reason", "", "why, for the audit trail")
	format := c.fs.String("format", "table", "output: table or json")
	return c.run(func(ctx context.Context, env Env, cfg connConfig, args []string) int {
		if *up == "" {
			return fail(env, usagef("admin rotate-upstream-key: --upstream is required"))
		}
		if err := checkFormat(*format, "table", "json"); err != nil {
			return fail(env, err)
		}
		return withSession(ctx, cfg, env, func(ctx context.Context, s *session) error {
			resp, err := s.admin.RotateUpstreamKey(ctx, &ztbrokerv1.RotateUpstreamKeyRequest{Upstream: *up, Reason: *reason})
			if err != nil {
				return fmt.Errorf("rotate the admin key of %s: %w", *up, err)
			}
			if *format == "json" {
				return writeJSON(env.Stdout, resp)
			}
			r := resp.GetRotation()
			_, err = fmt.Fprintf(env.Stdout, "rotated the admin key of %s: %s is in use (expires %s); %s is deleted after %s (rotation %s)\n",
				r.GetUpstream(), r.GetNewKeyId(), stamp(r.GetNewKeyExpireTime()), r.GetOldKeyId(), stamp(r.GetOldKeyDeleteTime()), r.GetId())
			return err
		})
	})
}

func adminUpstreams(newEnv EnvFunc) *cobra.Command {
	c := newCommand(newEnv, "upstreams [flags]", "Show each upstream's admin key, its account and its expiry", "",
		`  broker admin upstreams
  broker admin upstreams --format json`)
	format := c.fs.String("format", "table", "output: table or json")
	return c.run(func(ctx context.Context, env Env, cfg connConfig, args []string) int {
		if err := checkFormat(*format, "table", "json"); err != nil {
			return fail(env, err)
		}
		return withSession(ctx, cfg, env, func(ctx context.Context, s *session) error {
			resp, err := s.admin.ListUpstreams(ctx, &ztbrokerv1.ListUpstreamsRequest{})
			if err != nil {
				return fmt.Errorf("list upstreams: %w", err)
			}
			if *format == "json" {
				return writeJSON(env.Stdout, resp)
			}
			return writeUpstreamTable(env.Stdout, resp.GetUpstreams())
		})
	})
}

func writeUpstreamTable(w io.Writer, ups []*ztbrokerv1.UpstreamCredential) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "UPSTREAM\tKIND\tADMIN KEY\tACCOUNT\tSOURCE\tEXPIRES\tWARNING")
	for _, u := range ups {
		exp := "never"
		if u.GetExpireTime() != nil {
			exp = stamp(u.GetExpireTime())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.GetUpstream(), u.GetKind(), dash(u.GetKeyId()), u.GetAccount(),
			u.GetSource(), exp, u.GetWarning())
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
