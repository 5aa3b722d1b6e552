package clientcmd

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

func tokenRevoke(newEnv EnvFunc) *cobra.Command {
	c := newCommand(newEnv, "revoke --id ID | --label k=v [--label k=v]... [--purpose P] [flags]",
		"Revoke one of your leases, or all of them with a label",
		"Revokes a lease by id, or every live lease of yours that carries all the given\nlabels; the token is deleted upstream at once.",
		`  broker token revoke --id "$ZTBROKER_LEASE_ID" --reason "deploy finished"
  broker token revoke --label run_id=$GITHUB_RUN_ID`)
	id := c.fs.String("id", "", "lease id to revoke")
	var labels labelFlag
	c.fs.Var(&labels, "label", "revoke every live lease of yours with this label `key=value` (repeat to require several),\n"+
		"e.g. run_id=$GITHUB_RUN_ID at the end of a CI job")
	purpose := c.fs.String("purpose", "", "with --label, only leases of this purpose")
	reason := c.fs.String("reason", "", "reason recorded on the lease")
	return c.run(func(ctx context.Context, env Env, cfg connConfig, args []string) int {
		switch {
		case (*id == "") == (len(labels.keys) == 0):
			return fail(env, usagef("token revoke: give exactly one of --id or --label"))
		case *id != "" && *purpose != "":
			return fail(env, usagef("token revoke: --purpose only narrows --label"))
		}
		return withSession(ctx, cfg, env, func(ctx context.Context, s *session) error {
			if *id != "" {
				return s.revokeOne(ctx, env.Stdout, *id, *reason)
			}
			return s.revokeLabelled(ctx, env.Stdout, labels, *purpose, *reason)
		})
	})
}

func (s *session) revokeOne(ctx context.Context, w io.Writer, id, reason string) error {
	resp, err := s.broker.RevokeLease(ctx, &ztbrokerv1.RevokeLeaseRequest{Id: id, Reason: reason})
	if err != nil {
		return fmt.Errorf("revoke lease %s: %w", id, err)
	}
	if resp.GetAlreadyRevoked() {
		_, err = fmt.Fprintf(w, "lease %s had already ended (%s)\n", id, stateName(resp.GetLease().GetState()))
		return err
	}
	_, err = fmt.Fprintf(w, "revoked lease %s\n", id)
	return err
}

// revokeLabelled revokes every live lease carrying all the labels. The
// broker filters on one label and shows a caller only its own leases; the
// other labels are matched here.
func (s *session) revokeLabelled(ctx context.Context, w io.Writer, labels labelFlag, purpose, reason string) error {
	first := labels.keys[0]
	leases, err := s.listLeases(ctx, &ztbrokerv1.ListLeasesRequest{
		Purpose: purpose,
		Label:   first + "=" + labels.values[first],
	})
	if err != nil {
		return err
	}
	var targets []string
	for _, l := range leases {
		if live(l) && hasLabels(l, labels) {
			targets = append(targets, l.GetId())
		}
	}
	var failed int
	var firstErr error
	for _, id := range targets {
		if err := s.revokeOne(ctx, w, id, reason); err != nil {
			failed++
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d matching leases not revoked; first failure: %w", failed, len(targets), firstErr)
	}
	_, err = fmt.Fprintf(w, "revoked %d leases labelled %s\n", len(targets), labels.String())
	return err
}

func hasLabels(l *ztbrokerv1.Lease, want labelFlag) bool {
	for k, v := range want.values {
		if got, ok := l.GetLabels()[k]; !ok || got != v {
			return false
		}
	}
	return true
}
