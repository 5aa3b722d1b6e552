package clientcmd

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"google.golang.org/protobuf/types/known/durationpb"
)

// revokeBudget bounds how long exec keeps retrying the revocation after
// its command ended, e.g. while the broker restarts. After that the lease
// is left to expire and the failure is reported with its id.
const revokeBudget = 2 * time.Minute

var envNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// execCmd is `broker exec --purpose P [flags] -- command [args...]`: it
// issues a token, runs the command with the token in its environment only,
// renews the lease while the command runs, revokes it when the command ends
// however it ends, and exits with the command's exit status (128+n when it
// was killed by signal n).
func execCmd(newEnv EnvFunc) *cobra.Command {
	c := newCommand(newEnv, "exec --purpose P [flags] -- command [args...]",
		"Run a command with a token in its environment, revoked when it ends", `Issues a token and runs the command with it in the command's environment only:
$ZEROTIER_CENTRAL_TOKEN (or the --env-var name), $ZEROTIER_CENTRAL_URL,
$ZEROTIER_AUTH_SCHEME and $ZTBROKER_LEASE_ID. The token is never printed. The
lease is renewed while the command runs, and revoked when the command exits or
is stopped. The broker's own credentials are removed from the command's
environment unless --keep-credentials is given; SIGINT, SIGTERM and SIGHUP are forwarded to it. Exits with the
command's status, 128+n if signal n killed it. --timeout bounds issuing; the
revocation is retried for up to `+revokeBudget.String()+`.`,
		`  broker exec --purpose deploy -- terraform apply
  broker exec --purpose deploy --ttl 30m --env-var ZT_TOKEN -- ./sync-members.sh
  broker exec --purpose dev -- sh -c 'curl -s -H "Authorization: Bearer $ZEROTIER_CENTRAL_TOKEN" $ZEROTIER_CENTRAL_URL/api/v2/org'`)
	c.takesArgs = true
	c.cancelOnSignal = false
	// Everything after the first argument belongs to the command.
	c.fs.SetInterspersed(false)
	var f issueFlags
	f.register(c)
	tokenVar := c.fs.String("env-var", envToken, "environment variable that carries the token to the command")
	keepCreds := c.fs.Bool("keep-credentials", false, "leave the broker's own credentials (BROKER_API_KEY, BROKER_API_KEY_FILE,\n"+
		"BROKER_TLS_KEY, ACTIONS_ID_TOKEN_REQUEST_*, the --oidc env: variable) in the command's environment")
	return c.run(func(ctx context.Context, env Env, cfg connConfig, args []string) int {
		argv := args
		switch err := f.check(); {
		case err != nil:
			return fail(env, fmt.Errorf("exec: %w", err))
		case len(argv) == 0:
			return fail(env, usagef("exec: no command given; put it after --"))
		case !envNameRE.MatchString(*tokenVar):
			return fail(env, usagef("exec: --env-var %q is not a valid variable name", *tokenVar))
		}

		s, err := open(cfg, env)
		if err != nil {
			return fail(env, err)
		}
		defer s.Close()
		req, key := f.request(env)
		resp, err := s.issue(ctx, req)
		if err != nil {
			return fail(env, err)
		}
		var ttl *durationpb.Duration
		if f.ttl > 0 {
			ttl = durationpb.New(f.ttl)
		}
		sup := &supervisor{s: s, env: env, lease: resp.GetLease(), ttl: ttl, stderr: &syncWriter{w: env.Stderr}, key: key}
		if !*keepCreds {
			sup.strip = credentialVars(cfg)
		}
		return sup.run(ctx, argv, leaseVars(resp, *tokenVar))
	})
}

// credentialVars are the variables that let whoever holds them act as
// this caller towards the broker, which exec's command must not inherit:
// the API key (in `broker dev` an admin key), the client key, the GitHub
// runtime's means to fetch ID tokens, and the variable --oidc env: names.
func credentialVars(cfg connConfig) func(name string) bool {
	oidcVar := ""
	if kind, name, ok := strings.Cut(cfg.oidc, ":"); ok && kind == "env" {
		oidcVar = name
	}
	return func(name string) bool {
		switch name {
		case "BROKER_API_KEY", "BROKER_API_KEY_FILE", "BROKER_TLS_KEY", "BROKER_DEV_API_KEY":
			return true
		}
		return strings.HasPrefix(name, "ACTIONS_ID_TOKEN_REQUEST_") || (oidcVar != "" && name == oidcVar)
	}
}
