package clientcmd

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// The variables a token's user reads; exec sets the same ones.
const (
	envToken      = "ZEROTIER_CENTRAL_TOKEN"
	envURL        = "ZEROTIER_CENTRAL_URL"
	envAuthScheme = "ZEROTIER_AUTH_SCHEME"
	envLeaseID    = "ZTBROKER_LEASE_ID"
)

// leaseVars are the environment variables describing an issued token, with
// the token under tokenVar.
func leaseVars(resp *ztbrokerv1.IssueTokenResponse, tokenVar string) [][2]string {
	return [][2]string{
		{tokenVar, resp.GetToken()},
		{envURL, resp.GetApiBaseUrl()},
		{envAuthScheme, resp.GetAuthScheme()},
		{envLeaseID, resp.GetLease().GetId()},
	}
}

func writeRaw(w io.Writer, resp *ztbrokerv1.IssueTokenResponse) error {
	_, err := fmt.Fprintln(w, resp.GetToken())
	return err
}

// writeJSON prints m with the proto field names, snake_case, as the
// REST gateway answers, so one script reads both.
func writeJSON(w io.Writer, m proto.Message) error {
	b, err := protojson.MarshalOptions{Multiline: true, Indent: "  ", UseProtoNames: true}.Marshal(m)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// writeEnv prints NAME='value' lines for `eval` in a POSIX shell.
func writeEnv(w io.Writer, resp *ztbrokerv1.IssueTokenResponse) error {
	bw := bufio.NewWriter(w)
	for _, kv := range leaseVars(resp, envToken) {
		fmt.Fprintf(bw, "%s=%s\n", kv[0], shellQuote(kv[1]))
	}
	return bw.Flush()
}

// shellQuote single-quotes s so that a POSIX shell reads it back verbatim.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
