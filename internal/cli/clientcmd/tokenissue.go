package clientcmd

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// reasonOutputFailed is recorded on a lease revoked because its token
// could not be handed to the caller.
const reasonOutputFailed = "client could not deliver the token"

func tokenIssue(newEnv EnvFunc) *cobra.Command {
	c := newCommand(newEnv, "issue --purpose P [flags]", "Issue a token for a purpose and print it",
		`Issues a token for a purpose and prints it: the token alone, JSON (the REST
answer's snake_case fields), shell variables, or GitHub Actions outputs. Inside
GitHub Actions or GitLab CI the lease is labelled with the run (ci, run_id,
run_attempt, job, repository or project), so "broker token revoke --label
run_id=..." can end every lease of a run.`,
		`  broker token issue --purpose deploy
  broker token issue --purpose deploy --ttl 15m --label ticket=OPS-12 --format json
  eval "$(broker token issue --purpose deploy --format env)"`)
	var f issueFlags
	f.register(c)
	format := c.fs.String("format", "raw", "output: raw (the token), json, env (shell NAME='value' lines) or github\n"+
		"(mask the token, write step outputs to $GITHUB_OUTPUT and variables to $GITHUB_ENV)")
	return c.run(func(ctx context.Context, env Env, cfg connConfig, args []string) int {
		if err := f.check(); err != nil {
			return fail(env, err)
		}
		var write func(*ztbrokerv1.IssueTokenResponse) error
		switch *format {
		case "raw":
			write = func(r *ztbrokerv1.IssueTokenResponse) error { return writeRaw(env.Stdout, r) }
		case "json":
			write = func(r *ztbrokerv1.IssueTokenResponse) error { return writeJSON(env.Stdout, r) }
		case "env":
			write = func(r *ztbrokerv1.IssueTokenResponse) error { return writeEnv(env.Stdout, r) }
		case "github":
			// Checked before issuing, so a misplaced step mints nothing.
			files, err := githubFiles(env.getenv)
			if err != nil {
				return fail(env, err)
			}
			write = func(r *ztbrokerv1.IssueTokenResponse) error { return files.write(env.Stdout, r) }
		default:
			return fail(env, usagef("--format %q is not one of raw, json, env, github", *format))
		}

		s, err := open(cfg, env)
		if err != nil {
			return fail(env, err)
		}
		defer s.Close()
		req, _ := f.request(env)
		resp, err := s.issue(ctx, req)
		if err != nil {
			return fail(env, err)
		}
		if err := write(resp); err != nil {
			return fail(env, s.abandon(ctx, resp.GetLease().GetId(), fmt.Errorf("deliver token: %w", err)))
		}
		return ExitOK
	})
}

// abandon revokes a lease whose token never reached anyone, so that it does
// not stay usable until it expires, and says what happened in one error.
func (s *session) abandon(ctx context.Context, id string, cause error) error {
	ctx, cancel := s.deadline(context.WithoutCancel(ctx))
	defer cancel()
	if _, err := s.broker.RevokeLease(ctx, &ztbrokerv1.RevokeLeaseRequest{Id: id, Reason: reasonOutputFailed}); err != nil {
		return fmt.Errorf("%w; revoking its lease %s also failed: %v", cause, id, err)
	}
	return fmt.Errorf("%w; its lease %s was revoked", cause, id)
}
