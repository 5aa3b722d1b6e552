package clientcmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// adminCmd is `broker admin <revoke|forget|audit|upstreams|rotate-upstream-key> ...`. The broker only
// admits admin identities.
func adminCmd(newEnv EnvFunc) *cobra.Command {
	return group("admin", "Revoke anyone's leases, read the audit log, look after the upstream admin keys",
		`Commands for the broker's operators: the broker admits them only for the
identities listed under auth.admins in its configuration.`,
		`  broker admin revoke --purpose deploy --dry-run
  broker admin audit --limit 20
  broker admin upstreams`,
		adminRevoke(newEnv), adminForget(newEnv), adminAudit(newEnv), adminUpstreams(newEnv), adminRotate(newEnv))
}

func adminRevoke(newEnv EnvFunc) *cobra.Command {
	c := newCommand(newEnv, "revoke --purpose P | --owner O | --label k=v | --all [flags]",
		"Revoke every live lease matching a filter",
		`Revokes every live lease of a purpose, of an owner, with a label, or all of
them, in batches, printing progress after each; --dry-run shows what the first
batch would revoke and changes nothing.`,
		`  broker admin revoke --purpose deploy --dry-run
  broker admin revoke --owner oidc:github/repo:acme/infra:ref:refs/heads/main --reason "leaked runner"
  broker admin revoke --all --reason "rotating the upstream credential"`)
	var filter ztbrokerv1.LeaseFilter
	c.fs.StringVar(&filter.Purpose, "purpose", "", "revoke the live leases of this purpose")
	c.fs.StringVar(&filter.Owner, "owner", "", "revoke the live leases of this owner, `kind:subject`")
	c.fs.StringVar(&filter.Label, "label", "", "revoke the live leases with this label `key=value`")
	c.fs.BoolVar(&filter.All, "all", false, "revoke every live lease")
	dryRun := c.fs.Bool("dry-run", false, "report what would be revoked and change nothing")
	reason := c.fs.String("reason", "", "reason recorded on each lease")
	batch := c.fs.Int("batch-size", 0, "leases per call (the broker's default when 0)")
	return c.run(func(ctx context.Context, env Env, cfg connConfig, args []string) int {
		if filter.Purpose == "" && filter.Owner == "" && filter.Label == "" && !filter.All {
			return fail(env, usagef("admin revoke: give --purpose, --owner, --label or --all"))
		}
		if filter.All && (filter.Purpose != "" || filter.Owner != "" || filter.Label != "") {
			return fail(env, usagef("admin revoke: --all cannot be combined with a filter"))
		}
		req := &ztbrokerv1.RevokeLeasesRequest{Filter: &filter, Reason: *reason, DryRun: *dryRun, BatchSize: int32(*batch)}
		return withSession(ctx, cfg, env, func(ctx context.Context, s *session) error {
			return s.revokeLeases(ctx, env, req)
		})
	})
}

// revokeLeases calls RevokeLeases until nothing matching is left, printing
// progress after each batch. A dry run changes nothing, so one call answers
// it.
func (s *session) revokeLeases(ctx context.Context, env Env, req *ztbrokerv1.RevokeLeasesRequest) error {
	what := describeFilter(req.GetFilter())
	var total int64
	for {
		resp, err := s.admin.RevokeLeases(ctx, req)
		if err != nil {
			return fmt.Errorf("revoke leases matching %s (%d revoked so far): %w", what, total, err)
		}
		if req.GetDryRun() {
			fmt.Fprintf(env.Stdout, "dry run: the first batch would revoke %d leases matching %s; %d remaining\n",
				resp.GetDone(), what, resp.GetRemaining())
			for _, id := range resp.GetSampleIds() {
				fmt.Fprintf(env.Stdout, "  %s\n", id)
			}
			return nil
		}
		total += resp.GetDone()
		fmt.Fprintf(env.Stdout, "revoked %d, %d remaining\n", resp.GetDone(), resp.GetRemaining())
		if resp.GetRemaining() == 0 {
			_, err := fmt.Fprintf(env.Stdout, "revoked %d leases matching %s\n", total, what)
			return err
		}
		if resp.GetDone() == 0 {
			// Calling again would ask the same question forever.
			return fmt.Errorf("revoke leases matching %s: the broker made no progress with %d remaining (%d revoked)",
				what, resp.GetRemaining(), total)
		}
	}
}

func describeFilter(f *ztbrokerv1.LeaseFilter) string {
	if f.GetAll() {
		return "all"
	}
	var parts []string
	for _, p := range [][2]string{{"purpose", f.GetPurpose()}, {"owner", f.GetOwner()}, {"label", f.GetLabel()}} {
		if p[1] != "" {
			parts = append(parts, fmt.Sprintf("%s=%q", p[0], p[1]))
		}
	}
	return strings.Join(parts, " ")
}

func adminForget(newEnv EnvFunc) *cobra.Command {
	c := newCommand(newEnv, "forget --id ID --reason R [flags]", "Close a lease whose revocation keeps failing",
		`Marks a lease in revoke_failed as forgotten, once an operator has made sure its
token is gone upstream (deleted by hand, or expired), so that the revoker stops
retrying. The reason is recorded in the audit log.`,
		`  broker admin forget --id 0193b5c2-7d1e-7c4a-9f0e-2f4b8d6a1c33 --reason "deleted by hand in Central"`)
	id := c.fs.String("id", "", "lease id (required); its upstream token must already be gone")
	reason := c.fs.String("reason", "", "why the lease may be forgotten (required)")
	return c.run(func(ctx context.Context, env Env, cfg connConfig, args []string) int {
		if *id == "" || *reason == "" {
			return fail(env, usagef("admin forget: --id and --reason are required"))
		}
		return withSession(ctx, cfg, env, func(ctx context.Context, s *session) error {
			resp, err := s.admin.ForgetLease(ctx, &ztbrokerv1.ForgetLeaseRequest{Id: *id, Reason: *reason})
			if err != nil {
				return fmt.Errorf("forget lease %s: %w", *id, err)
			}
			_, err = fmt.Fprintf(env.Stdout, "forgot lease %s (now %s)\n", *id, stateName(resp.GetLease().GetState()))
			return err
		})
	})
}
