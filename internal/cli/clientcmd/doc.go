// Package clientcmd implements the client side of the broker binary: the
// `token`, `exec`, `agent` and `admin` commands that speak gRPC to a
// running broker, through the public Go client (package client).
//
// Every command resolves its connection from flags falling back to BROKER_*
// environment variables, presents one caller credential (an API key, a CI
// workload token or a client certificate), retries transient failures with
// backoff inside one overall deadline, and ends with exactly one line on
// stderr when it fails, plus an exit code that says which kind of failure it
// was. Nothing here reads the process environment or signals directly: the
// caller hands both in through Env, which is what lets tests drive `exec`
// end to end.
//
// `exec` is the command CI jobs should prefer: the token exists only in the
// child's environment, is renewed while the child runs and is revoked when
// it ends, however it ends. `agent` is the sidecar for services that are
// not Go: it keeps a token in files, renewed and replaced in time, and
// revokes it when it is stopped.
package clientcmd
