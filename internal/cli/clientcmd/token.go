package clientcmd

import (
	"context"
)

const tokenUsage = `  broker token issue  --purpose P [--ttl D] [--label k=v]... [--idempotency-key K] [--format raw|json|env|github]
  broker token get    --id ID [--format table|json]
  broker token list   [--purpose P] [--state S] [--label k=v] [--page-size N] [--format table|json]
  broker token renew  --id ID [--ttl D]
  broker token revoke --id ID [--reason R]
  broker token revoke --label k=v [--label k=v]... [--purpose P] [--reason R]`

// Token runs `broker token <issue|get|list|renew|revoke> ...` and returns
// the process exit code.
func Token(ctx context.Context, args []string, env Env) int {
	ctx, cancel := env.cancelOnSignal(ctx)
	defer cancel()
	return dispatch("token", args, env, map[string]func([]string) int{
		"issue":  func(a []string) int { return tokenIssue(ctx, a, env) },
		"get":    func(a []string) int { return tokenGet(ctx, a, env) },
		"list":   func(a []string) int { return tokenList(ctx, a, env) },
		"renew":  func(a []string) int { return tokenRenew(ctx, a, env) },
		"revoke": func(a []string) int { return tokenRevoke(ctx, a, env) },
	}, tokenUsage)
}
