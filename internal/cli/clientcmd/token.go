package clientcmd

import "github.com/spf13/cobra"

func tokenCmd(newEnv EnvFunc) *cobra.Command {
	return group("token", "Issue, inspect, renew and revoke your leases",
		`Speaks gRPC to a running broker as you (an API key, a CI workload token or a
client certificate) and manages your own leases: issue a token for a purpose,
list and inspect leases, renew one, revoke one or every lease with a label.`,
		`  export BROKER_ADDR=broker.internal:9090 BROKER_API_KEY_FILE=/run/secrets/broker-key
  broker token issue --purpose deploy --ttl 15m
  broker token list --state active`,
		tokenIssue(newEnv), tokenGet(newEnv), tokenList(newEnv), tokenRenew(newEnv), tokenRevoke(newEnv))
}
