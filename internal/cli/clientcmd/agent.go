package clientcmd

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/ztbroker/ztbroker/client"
	"github.com/ztbroker/ztbroker/internal/cli/sink"
)

// agentCmd is `broker agent --purpose P --sink file:PATH [flags]`: a
// sidecar that keeps a valid token for services in any language. It holds
// one lease through the Go client's TokenSource, writes the token to every
// sink whenever it changes, optionally runs a command and signals or
// restarts it when the token changes, serves a health endpoint, and on
// SIGTERM or SIGINT stops the command, revokes the lease and removes the
// sinks.
func agentCmd(newEnv EnvFunc) *cobra.Command {
	c := newCommand(newEnv, "agent --purpose P --sink file:PATH [--sink env-file:PATH] [--template SRC:OUT] [flags]",
		"Keep a valid token in files for a service, renewed and replaced in the background", `Keeps a valid token for the purpose in the sinks, for services in any language:
file:PATH holds the token alone, env-file:PATH the lines `+sink.EnvToken+`=...,
`+sink.EnvURL+`, `+sink.EnvAuthScheme+` and `+sink.EnvLeaseID+`, and --template SRC:OUT renders
the text/template SRC with .Token, .APIBaseURL, .AuthScheme, .LeaseID, .Purpose
and .Expires. Files are replaced atomically with mode 0600. The lease is renewed
in the background and replaced when it reaches its maximum lifetime; on SIGTERM
or SIGINT the agent stops --exec's command, revokes the lease, removes the sinks
and exits 0. If --exec's command exits by itself, the agent does the same and
exits with its status. The token never goes into the command's environment.`,
		`  broker agent --purpose deploy --sink file:/run/zt/token --health-addr 127.0.0.1:8099
  broker agent --purpose deploy --sink env-file:/run/zt/env --exec 'my-service --token-file /run/zt/token' --exec-reload SIGHUP
  broker agent --purpose deploy --template /etc/zt/netrc.tmpl:/run/zt/netrc --sink-owner app:app`)
	c.cancelOnSignal = false
	var a agentFlags
	a.register(c)
	return c.run(func(ctx context.Context, env Env, cfg connConfig, args []string) int {
		plan, err := a.plan()
		if err != nil {
			return fail(env, fmt.Errorf("agent: %w", err))
		}
		s, err := open(cfg, env)
		if err != nil {
			return fail(env, err)
		}
		defer s.Close()
		ag := &agent{
			plan:    plan,
			env:     env,
			clock:   env.clock(),
			stderr:  &syncWriter{w: env.Stderr},
			timeout: cfg.timeout,
			ts: s.client.TokenSource(plan.purpose,
				client.TTL(plan.ttl), client.Labels(plan.labels), client.MinValidity(plan.minValidity)),
		}
		return ag.run(ctx)
	})
}

// agentFlags are agent's own flags.
type agentFlags struct {
	purpose             string
	ttl, minValidity    time.Duration
	labels              labelFlag
	sinks, templates    listFlag
	owner, health, exec string
	reload              string
	stopTimeout         time.Duration
}

func (f *agentFlags) register(c *command) {
	c.fs.StringVar(&f.purpose, "purpose", "", "purpose to keep a token for (required)")
	c.fs.DurationVar(&f.ttl, "ttl", 0, "lease TTL to ask for at each issue and renewal; the purpose's default when unset")
	c.fs.Var(&f.labels, "label", "lease label `key=value`, repeatable")
	c.fs.Var(&f.sinks, "sink", "keep the token in `file:PATH` (the token alone) or env-file:PATH; repeatable")
	c.fs.Var(&f.templates, "template", "render the text/template in file SRC into OUT, as `SRC:OUT`; repeatable")
	c.fs.StringVar(&f.owner, "sink-owner", "", "`user[:group]` (names or numbers) that owns the sink files; the agent's own by default")
	c.fs.DurationVar(&f.minValidity, "min-validity", client.DefaultMinValidity,
		"the sinks are refreshed so that their token stays valid for at least this long")
	c.fs.StringVar(&f.health, "health-addr", "", "serve /healthz and /readyz (ready only while the sinks hold a valid token) on `host:port`")
	c.fs.StringVar(&f.exec, "exec", "", "run `command` (with /bin/sh -c 'exec command') once the sinks hold a token")
	c.fs.StringVar(&f.reload, "exec-reload", "SIGHUP", "what --exec's command gets when the token changes: a `signal` such as SIGHUP or SIGUSR1, or restart")
	c.fs.DurationVar(&f.stopTimeout, "exec-stop-timeout", 10*time.Second, "how long --exec's command has to exit after SIGTERM before it is killed")
}

// agentPlan is agentFlags checked.
type agentPlan struct {
	purpose          string
	ttl, minValidity time.Duration
	labels           map[string]string
	sinks            []sink.Sink
	owner            sink.Owner
	health           string
	exec             string
	// reloadSignal is sent on a token change; zero means restart.
	reloadSignal syscall.Signal
	stopTimeout  time.Duration
}

func (f *agentFlags) plan() (agentPlan, error) {
	p := agentPlan{
		purpose: f.purpose, ttl: f.ttl, minValidity: f.minValidity, labels: f.labels.values,
		health: f.health, exec: f.exec, stopTimeout: f.stopTimeout,
	}
	switch {
	case f.purpose == "":
		return p, usagef("--purpose is required")
	case f.ttl < 0 || f.minValidity <= 0 || f.stopTimeout <= 0:
		return p, usagef("--ttl must not be negative, and --min-validity and --exec-stop-timeout must be positive")
	case len(f.sinks) == 0 && len(f.templates) == 0:
		return p, usagef("give at least one --sink or --template")
	}
	seen := map[string]bool{}
	add := func(s sink.Sink, err error) error {
		if err != nil {
			return usagef("%v", err)
		}
		if seen[s.Path] {
			return usagef("two sinks write %s", s.Path)
		}
		seen[s.Path] = true
		p.sinks = append(p.sinks, s)
		return nil
	}
	for _, spec := range f.sinks {
		if err := add(sink.Parse(spec)); err != nil {
			return p, err
		}
	}
	for _, spec := range f.templates {
		if err := add(sink.ParseTemplate(spec)); err != nil {
			return p, err
		}
	}
	var err error
	if p.owner, err = sink.ParseOwner(f.owner); err != nil {
		return p, usagef("--sink-owner: %v", err)
	}
	if f.reload != "restart" {
		sig, ok := signalNamed(f.reload)
		if !ok {
			return p, usagef("--exec-reload %q is neither a signal name such as SIGHUP nor restart", f.reload)
		}
		p.reloadSignal = sig
	}
	return p, nil
}

// listFlag collects a repeated string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

func (l *listFlag) Type() string { return "string" }
