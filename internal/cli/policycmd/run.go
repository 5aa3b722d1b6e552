package policycmd

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/ztbroker/ztbroker/internal/cli/cmdtree"

	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/policy"
	"github.com/ztbroker/ztbroker/internal/server"
)

// Exit codes.
const (
	ExitAdmitted = 0
	ExitDenied   = 1
	ExitUsage    = 2
)

const usage = `usage: broker policy test --config FILE --purpose NAME --identity FILE.json
       broker policy test --config FILE --purpose NAME --request 'METHOD /path' [--body FILE.json] [--label k=v]...

With --identity, evaluates the purpose's admission policy for the identity
and prints which rule admits it, or why each rule does not. The identity
file is JSON:

  {"kind": "oidc", "subject": "github/repo:acme/infra:ref:refs/heads/main",
   "claims": {"repository": "acme/infra", "ref": "refs/heads/main"}}

kind is api_key, mtls or oidc.

With --request, evaluates a proxy purpose's scope for one call, as a lease
holder would send it through the broker (the path as on ZeroTier Central,
e.g. 'POST /api/v2/network/8056c2e21c000001/member/deadbeef00/authorize'),
with the body read from --body and the lease's labels from --label, and
prints whether it is allowed and why, step by step. Both may be given.

Secrets named in the config are not read.
Exit status: 0 admitted (and allowed), 1 denied, 2 usage or config error.
`

// Run executes "policy <args>" as the broker binary would and returns the
// exit code: for tests. See Command.
func Run(args []string, stdout, stderr io.Writer) int {
	root := &cobra.Command{Use: "broker"}
	root.AddCommand(Command())
	return cmdtree.Run(context.Background(), root, append([]string{"policy"}, args...), stdout, stderr)
}

// Command is "broker policy", which holds "policy test".
func Command() *cobra.Command {
	g := &cobra.Command{
		Use:   "policy",
		Short: "Dry-run purposes' admission policies and proxy scopes",
		Long: `Evaluates a configuration's admission rules and proxy scopes offline, against
an identity or a request you describe, without a running broker.`,
		Example: `  broker policy test --config broker.yaml --purpose deploy --identity id.json`,
		Args:    cobra.ArbitraryArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			fmt.Fprint(c.ErrOrStderr(), usage)
			return cmdtree.Exit(ExitUsage)
		},
	}
	g.AddCommand(testCommand())
	return g
}

func testCommand() *cobra.Command {
	c := &cobra.Command{
		Use:   "test --config FILE --purpose NAME (--identity FILE.json | --request 'METHOD /path') [flags]",
		Short: "Show whether an identity is admitted, and whether a proxied call is allowed",
		Long:  strings.TrimPrefix(usage[strings.Index(usage, "\n\n"):], "\n\n"),
		Example: `  broker policy test --config broker.yaml --purpose deploy --identity id.json
  broker policy test --config broker.yaml --purpose members --request 'POST /api/v2/network/8056c2e21c000001/member/deadbeef00/authorize' --body body.json --label team=net`,
		Args: cobra.ArbitraryArgs,
	}
	fs := c.Flags()
	fs.SortFlags = false
	cfgPath := fs.String("config", "", "broker configuration `file`")
	purpose := fs.String("purpose", "", "purpose `name`")
	idPath := fs.String("identity", "", "identity JSON `file`")
	request := fs.String("request", "", "a proxied call, 'METHOD /path?query'")
	bodyPath := fs.String("body", "", "the call's JSON body, a `file`")
	var labels labelFlags
	fs.Var(&labels, "label", "a label of the lease making the call, `k=v` (repeatable)")
	c.RunE = func(c *cobra.Command, args []string) error {
		stdout, stderr := c.OutOrStdout(), c.ErrOrStderr()
		if *cfgPath == "" || *purpose == "" || (*idPath == "" && *request == "") || len(args) > 0 ||
			(*request == "" && (*bodyPath != "" || len(labels) > 0)) {
			fmt.Fprint(stderr, usage)
			return cmdtree.Exit(ExitUsage)
		}
		return cmdtree.Exit(test(stdout, stderr, *cfgPath, *purpose, *idPath, *request, *bodyPath, labels))
	}
	return c
}

func test(stdout, stderr io.Writer, cfgPath, purpose, idPath, request, bodyPath string, labels labelFlags) int {
	cfg, err := server.LoadConfig(cfgPath, config.Options{SkipSecrets: true})
	if err != nil {
		printErrors(stderr, err)
		return ExitUsage
	}
	p := findPurpose(cfg, purpose)
	if p == nil {
		fmt.Fprintf(stderr, "%s: no purpose named %q\n", cfgPath, purpose)
		return ExitUsage
	}
	code := ExitAdmitted
	owner := ""
	if idPath != "" {
		id, err := readIdentity(idPath)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return ExitUsage
		}
		pol, err := server.CompilePolicy(*p)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return ExitUsage
		}
		owner = id.Owner()
		code = report(stdout, p, owner, pol.Decide(id), pol.Explain(id))
	}
	if request != "" {
		req, err := readRequest(request, bodyPath, labels, owner)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return ExitUsage
		}
		if !p.IsProxy() {
			fmt.Fprintf(stderr, "%s: purpose %q has delivery %s: it hands out ZeroTier tokens and has no scope to test\n", cfgPath, p.Name, p.Delivery)
			return ExitUsage
		}
		sc, err := server.CompileScope(*p, cfg.Proxy)
		if err != nil {
			fmt.Fprintln(stderr, err)
			return ExitUsage
		}
		if rc := reportScope(stdout, p.Name, request, sc, req); rc != ExitAdmitted {
			code = rc
		}
	}
	return code
}

func findPurpose(cfg *config.Config, name string) *config.Purpose {
	for i := range cfg.Purposes {
		if cfg.Purposes[i].Name == name {
			return &cfg.Purposes[i]
		}
	}
	return nil
}

func report(w io.Writer, p *config.Purpose, owner string, d policy.Decision, results []policy.RuleResult) int {
	code := ExitDenied
	if d.Allowed {
		ttl := p.MaxTTL
		if d.MaxTTL > 0 && d.MaxTTL < ttl {
			ttl = d.MaxTTL
		}
		fmt.Fprintf(w, "purpose %s: %s ADMITTED by %s; leases up to %s (default %s)\n", p.Name, owner, d.Rule, ttl, min(p.DefaultTTL, ttl))
		code = ExitAdmitted
	} else {
		fmt.Fprintf(w, "purpose %s: %s DENIED; no rule admits it\n", p.Name, owner)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, r := range results {
		verdict := "no"
		if r.Admitted {
			verdict = "yes"
		}
		if r.Rule == d.Rule {
			verdict += " *"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\n", r.Rule, verdict, r.Reason)
	}
	_ = tw.Flush()
	return code
}

// printErrors prints each of the config's problems on its own line.
func printErrors(w io.Writer, err error) {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		for _, e := range j.Unwrap() {
			fmt.Fprintln(w, e)
		}
		return
	}
	fmt.Fprintln(w, err)
}
