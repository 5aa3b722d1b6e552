package clientcmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"google.golang.org/protobuf/types/known/durationpb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

func tokenGet(newEnv EnvFunc) *cobra.Command {
	c := newCommand(newEnv, "get --id ID [flags]", "Show one of your leases", "",
		`  broker token get --id 0193b5c2-7d1e-7c4a-9f0e-2f4b8d6a1c33
  broker token get --id "$ZTBROKER_LEASE_ID" --format json`)
	id := c.fs.String("id", "", "lease id (required)")
	format := c.fs.String("format", "table", "output: table or json")
	return c.run(func(ctx context.Context, env Env, cfg connConfig, args []string) int {
		if *id == "" {
			return fail(env, usagef("token get: --id is required"))
		}
		if err := checkFormat(*format, "table", "json"); err != nil {
			return fail(env, err)
		}
		return withSession(ctx, cfg, env, func(ctx context.Context, s *session) error {
			resp, err := s.broker.GetLease(ctx, &ztbrokerv1.GetLeaseRequest{Id: *id})
			if err != nil {
				return fmt.Errorf("get lease %s: %w", *id, err)
			}
			if *format == "json" {
				return writeJSON(env.Stdout, resp.GetLease())
			}
			return writeLease(env.Stdout, resp.GetLease())
		})
	})
}

func tokenList(newEnv EnvFunc) *cobra.Command {
	c := newCommand(newEnv, "list [flags]", "List your leases",
		"Lists your leases, newest first, following every page.",
		`  broker token list
  broker token list --purpose deploy --state active --format json
  broker token list --label run_id=$GITHUB_RUN_ID`)
	purpose := c.fs.String("purpose", "", "only leases of this purpose")
	state := c.fs.String("state", "", "only leases in this state: pending, active, revoking, revoked, failed or revoke_failed")
	label := c.fs.String("label", "", "only leases with this label `key=value`")
	pageSize := c.fs.Int("page-size", 0, "leases per request (the broker's default when 0; at most 1000)")
	format := c.fs.String("format", "table", "output: table or json")
	return c.run(func(ctx context.Context, env Env, cfg connConfig, args []string) int {
		st, err := parseState(*state)
		if err != nil {
			return fail(env, fmt.Errorf("token list: %w", err))
		}
		if err := checkFormat(*format, "table", "json"); err != nil {
			return fail(env, err)
		}
		req := &ztbrokerv1.ListLeasesRequest{PageSize: int32(*pageSize), Purpose: *purpose, State: st, Label: *label}
		return withSession(ctx, cfg, env, func(ctx context.Context, s *session) error {
			leases, err := s.listLeases(ctx, req)
			if err != nil {
				return err
			}
			if *format == "json" {
				return writeJSON(env.Stdout, &ztbrokerv1.ListLeasesResponse{Leases: leases})
			}
			return writeLeaseTable(env.Stdout, leases)
		})
	})
}

// listLeases follows every page.
func (s *session) listLeases(ctx context.Context, req *ztbrokerv1.ListLeasesRequest) ([]*ztbrokerv1.Lease, error) {
	var all []*ztbrokerv1.Lease
	for {
		resp, err := s.broker.ListLeases(ctx, req)
		if err != nil {
			return nil, fmt.Errorf("list leases: %w", err)
		}
		all = append(all, resp.GetLeases()...)
		if resp.GetNextPageToken() == "" {
			return all, nil
		}
		req.PageToken = resp.GetNextPageToken()
	}
}

func tokenRenew(newEnv EnvFunc) *cobra.Command {
	c := newCommand(newEnv, "renew --id ID [flags]", "Extend one of your leases",
		"Extends a lease to --ttl from now (the purpose's default when unset), never past\nthe lease's maximum lifetime.",
		`  broker token renew --id "$ZTBROKER_LEASE_ID" --ttl 30m`)
	id := c.fs.String("id", "", "lease id (required)")
	ttl := c.fs.Duration("ttl", 0, "how long from now the lease should last; the purpose's default when unset")
	return c.run(func(ctx context.Context, env Env, cfg connConfig, args []string) int {
		if *id == "" {
			return fail(env, usagef("token renew: --id is required"))
		}
		req := &ztbrokerv1.RenewLeaseRequest{Id: *id}
		if *ttl > 0 {
			req.Ttl = durationpb.New(*ttl)
		}
		return withSession(ctx, cfg, env, func(ctx context.Context, s *session) error {
			resp, err := s.broker.RenewLease(ctx, req)
			if err != nil {
				return fmt.Errorf("renew lease %s: %w", *id, err)
			}
			l := resp.GetLease()
			_, err = fmt.Fprintf(env.Stdout, "lease %s expires at %s (at the latest %s)\n",
				l.GetId(), stamp(l.GetExpireTime()), stamp(l.GetMaxExpireTime()))
			return err
		})
	})
}

// withSession opens a session, runs fn under the --timeout deadline, and
// turns its error into the command's exit code.
func withSession(ctx context.Context, cfg connConfig, env Env, fn func(context.Context, *session) error) int {
	s, err := open(cfg, env)
	if err != nil {
		return fail(env, err)
	}
	defer s.Close()
	ctx, cancel := s.deadline(ctx)
	defer cancel()
	if err := fn(ctx, s); err != nil {
		return fail(env, err)
	}
	return ExitOK
}

func checkFormat(got string, allowed ...string) error {
	for _, a := range allowed {
		if got == a {
			return nil
		}
	}
	return usagef("--format %q is not one of %v", got, allowed)
}
