package actiontest

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/testing/brokertest"
	"github.com/ztbroker/ztbroker/internal/testing/testproc"
)

const actionDir = "../../../actions/token"

// TestTokenAction uses the action in a fake GitHub Actions job: the token
// is masked before anything else is printed, handed on as outputs and to
// later steps' environment, carries the inputs' TTL and labels and the
// run's labels, works at the emulator, and is dead after the revoke action.
func TestTokenAction(t *testing.T) {
	t.Parallel()
	is := startIssuer(t)
	b := brokertest.Start(t, brokertest.TrustOIDC(brokertest.OIDCTrust{
		Name: issuerName, IssuerURL: is.srv.URL, CAFile: is.caFile, Audience: audience, Subject: subject,
	}))
	rt := startRuntime(t, is)
	bin := testproc.Build(t)
	pathDir := t.TempDir()
	if err := os.Symlink(bin, filepath.Join(pathDir, "broker")); err != nil {
		t.Fatal(err)
	}
	envFile := filepath.Join(t.TempDir(), "env")
	if err := os.WriteFile(envFile, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	j := &job{t: t, env: envFile, vars: map[string]string{
		"PATH":                           pathDir + ":/usr/bin:/bin",
		"HOME":                           t.TempDir(),
		"GITHUB_ACTIONS":                 "true",
		"GITHUB_REPOSITORY":              "acme/infra",
		"GITHUB_RUN_ID":                  "4242",
		"GITHUB_RUN_ATTEMPT":             "1",
		"GITHUB_JOB":                     "deploy",
		"GITHUB_ACTION":                  "__ztbroker_token",
		"RUNNER_NAME":                    "runner-1",
		"RUNNER_TEMP":                    t.TempDir(),
		"ACTIONS_ID_TOKEN_REQUEST_URL":   rt.srv.URL + "/token?api-version=2.0",
		"ACTIONS_ID_TOKEN_REQUEST_TOKEN": rt.requestToken,
	}}

	res := j.use(actionDir, map[string]string{
		"broker-address": b.GRPCAddr,
		"purpose":        brokertest.PurposeNC,
		"ttl":            "7m",
		"labels":         "team=netops, env=ci\nticket=OPS-1",
		"audience":       audience,
	})
	if res.err != nil {
		t.Fatalf("the token action failed:\n%s", res)
	}
	token, id := res.outputs["token"], res.outputs["lease-id"]
	if token == "" || id == "" {
		t.Fatalf("outputs %v lack the token or the lease id", keys(res.outputs))
	}
	if want := "::add-mask::" + token + "\n"; res.stdout != want {
		t.Errorf("stdout is %d bytes, want exactly the mask command", len(res.stdout))
	}
	if res.outputs["api-base-url"] != b.EmuURL || res.outputs["auth-scheme"] != "Bearer" {
		t.Errorf("api-base-url %q, auth-scheme %q", res.outputs["api-base-url"], res.outputs["auth-scheme"])
	}
	wantEnv := map[string]string{
		"ZEROTIER_CENTRAL_TOKEN": token, "ZEROTIER_CENTRAL_URL": b.EmuURL,
		"ZEROTIER_AUTH_SCHEME": "Bearer", "ZTBROKER_LEASE_ID": id,
	}
	if diff := cmp.Diff(wantEnv, readGitHubFile(t, envFile)); diff != "" {
		t.Errorf("GITHUB_ENV (-want +got):\n%s", diff)
	}
	ctx := context.Background()
	if got := b.TryToken(ctx, "Bearer", token); got != http.StatusOK {
		t.Errorf("the token: emulator answered %d", got)
	}
	l, err := b.Store.GetLease(ctx, store.GetLeaseParams{ID: id})
	if err != nil {
		t.Fatal(err)
	}
	wantLabels := map[string]string{"ci": "github", "repository": "acme/infra", "run_id": "4242", "run_attempt": "1",
		"job": "deploy", "team": "netops", "env": "ci", "ticket": "OPS-1"}
	if diff := cmp.Diff(wantLabels, l.Labels); diff != "" {
		t.Errorf("lease labels (-want +got):\n%s", diff)
	}
	// The issue and expiry times are stamped a moment apart.
	if ttl := l.ExpireTime.Sub(l.IssueTime); ttl > 7*time.Minute || ttl < 7*time.Minute-5*time.Second {
		t.Errorf("lease TTL %s, want the input's 7m", ttl)
	}
	if l.Owner != "oidc:"+issuerName+"/"+subject {
		t.Errorf("lease owner %q, want the job's OIDC identity", l.Owner)
	}

	rev := j.use(filepath.Join(actionDir, "revoke"), map[string]string{
		"broker-address": b.GRPCAddr, "lease-id": id, "audience": audience,
	})
	if rev.err != nil {
		t.Fatalf("the revoke action failed:\n%s", rev)
	}
	if got := b.TryToken(ctx, "Bearer", token); got != http.StatusUnauthorized {
		t.Errorf("after the revoke action the token still works (emulator answered %d)", got)
	}
	if l, _ := b.Store.GetLease(ctx, store.GetLeaseParams{ID: id}); l.State != lease.StateRevoked || l.RevokeReason != "GitHub Actions job finished" {
		t.Errorf("lease is %s (%q), want revoked with the default reason", l.State, l.RevokeReason)
	}

	// The revoke step of a job whose issue step never ran does nothing.
	none := j.use(filepath.Join(actionDir, "revoke"), map[string]string{"broker-address": b.GRPCAddr})
	if none.err != nil || !strings.Contains(none.stdout, "no lease to revoke") {
		t.Errorf("revoke without a lease id:\n%s", none)
	}

	secrets := append([]string{token, rt.requestToken}, rt.jwts()...)
	b.CheckNoSecret(t, secrets, res.stderr, rev.stdout, rev.stderr)
}

func keys(m map[string]string) []string {
	var out []string
	for k, v := range m {
		if v != "" {
			out = append(out, k)
		}
	}
	return out
}
