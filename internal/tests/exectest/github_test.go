package exectest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/cli/clientcmd"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// ghJob is one GitHub Actions step's environment: the run's variables, the
// files later steps read, and the runtime's ID token endpoint.
type ghJob struct {
	vars                map[string]string
	outputFile, envFile string
}

func newGHJob(t *testing.T) *ghJob {
	t.Helper()
	dir := t.TempDir()
	j := &ghJob{outputFile: filepath.Join(dir, "output"), envFile: filepath.Join(dir, "env")}
	// The runner creates both files before the step starts.
	for _, f := range []string{j.outputFile, j.envFile} {
		if err := os.WriteFile(f, nil, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	j.vars = map[string]string{
		"GITHUB_ACTIONS":     "true",
		"GITHUB_REPOSITORY":  "acme/infra",
		"GITHUB_RUN_ID":      "9001",
		"GITHUB_RUN_ATTEMPT": "2",
		"GITHUB_JOB":         "deploy",
		"GITHUB_ACTION":      "ztbroker",
		"GITHUB_OUTPUT":      j.outputFile,
		"GITHUB_ENV":         j.envFile,
		"RUNNER_TEMP":        filepath.Join(dir, "runner-temp"),
	}
	if err := os.Mkdir(j.vars["RUNNER_TEMP"], 0o700); err != nil {
		t.Fatal(err)
	}
	return j
}

// derivedKey is the end of a key derived in CI: the purpose and the
// step's random part.
var derivedKey = regexp.MustCompile("-" + purposeCI + "-[0-9a-f]{32}$")

// issue runs `broker token issue` in the step.
func (j *ghJob) issue(hc *http.Client, args ...string) (code int, stdout, stderr string) {
	return j.run(hc, append([]string{"issue"}, args...)...)
}

// run runs `broker token <args>` in the step and returns its exit code and
// outputs.
func (j *ghJob) run(hc *http.Client, args ...string) (code int, stdout, stderr string) {
	var out, errOut syncBuffer
	env := clientcmd.Env{
		Stdout:     &out,
		Stderr:     &errOut,
		Getenv:     func(k string) string { return j.vars[k] },
		HTTPClient: hc,
	}
	code = clientcmd.Token(context.Background(), append(args, "--timeout", "20s"), env)
	return code, out.String(), errOut.String()
}

// idTokenEndpoint is the Actions runtime's ID token service: it answers
// only its request token and records the audiences it was asked for.
type idTokenEndpoint struct {
	srv          *httptest.Server
	requestToken string
	jwt          string

	mu        sync.Mutex
	audiences []string
	rejected  int
}

func startIDTokenEndpoint(t *testing.T, jwt string) *idTokenEndpoint {
	t.Helper()
	e := &idTokenEndpoint{requestToken: "ghs_runtime_" + rand.Text(), jwt: jwt}
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		defer e.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+e.requestToken {
			e.rejected++
			http.Error(w, "bad request token", http.StatusUnauthorized)
			return
		}
		e.audiences = append(e.audiences, r.URL.Query().Get("audience"))
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"value": e.jwt})
	}))
	t.Cleanup(e.srv.Close)
	return e
}

func (e *idTokenEndpoint) seen() (audiences []string, rejected int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.audiences...), e.rejected
}

// TestTokenIssueInGitHubActions runs `broker token issue --oidc github
// --format github` in a GitHub Actions step: the client fetches the job's
// ID token from the Actions runtime and presents it to the broker, which
// verifies it against the issuer and admits its subject. The token is
// masked before anything else, handed on through $GITHUB_OUTPUT and
// $GITHUB_ENV and printed nowhere else; the lease is labelled with the run;
// re-running the step returns the same lease instead of minting again; and
// revoking it from the step kills it upstream.
func TestTokenIssueInGitHubActions(t *testing.T) {
	t.Parallel()
	is := startOIDCIssuer(t)
	b := startBroker(t, trusting(is))
	p := startProxy(t, b.grpcAddr)
	idp := startIDTokenEndpoint(t, is.mint(t))
	job := newGHJob(t)
	job.vars["ACTIONS_ID_TOKEN_REQUEST_URL"] = idp.srv.URL + "/token?api-version=2.0"
	job.vars["ACTIONS_ID_TOKEN_REQUEST_TOKEN"] = idp.requestToken
	job.vars["BROKER_OIDC"] = "github"
	job.vars["BROKER_OIDC_AUDIENCE"] = is.audience
	job.vars["BROKER_ADDR"] = p.addr()
	args := []string{"--purpose", purposeCI, "--format", "github"}

	code, stdout, stderr := job.issue(idp.srv.Client(), args...)
	if code != 0 {
		t.Fatalf("token issue returned %d; stderr:\n%s", code, stderr)
	}
	audiences, rejected := idp.seen()
	if diff := cmp.Diff([]string{is.audience}, audiences); diff != "" || rejected != 0 {
		t.Errorf("ID token requests: %d with a wrong request token; audiences (-want +got):\n%s", rejected, diff)
	}
	if diff := cmp.Diff([]string{"Bearer " + idp.jwt}, p.authorizations()); diff != "" {
		t.Errorf("authorization the broker received (-want +got):\n%s", diff)
	}

	outputs := readGitHubFile(t, job.outputFile)
	token, id := outputs["token"], outputs["lease_id"]
	if token == "" || id == "" {
		t.Fatalf("GITHUB_OUTPUT has token %d bytes and lease_id %q; want both", len(token), id)
	}
	if want := "::add-mask::" + token + "\n"; stdout != want {
		t.Errorf("stdout is %d bytes, want exactly the mask command (%d bytes)", len(stdout), len(want))
	}
	wantEnv := map[string]string{
		"ZEROTIER_CENTRAL_TOKEN": token,
		"ZEROTIER_CENTRAL_URL":   outputs["api_base_url"],
		"ZEROTIER_AUTH_SCHEME":   outputs["auth_scheme"],
		"ZTBROKER_LEASE_ID":      id,
	}
	if diff := cmp.Diff(wantEnv, readGitHubFile(t, job.envFile)); diff != "" {
		t.Errorf("GITHUB_ENV (-want +got):\n%s", diff)
	}
	scheme := outputs["auth_scheme"]
	b.checkLive(t, scheme, token)

	l := b.lease(t, id)
	if l.Owner != is.owner() {
		t.Errorf("lease owner %q, want the job's OIDC identity %q", l.Owner, is.owner())
	}
	wantLabels := map[string]string{"ci": "github", "repository": "acme/infra", "run_id": "9001", "run_attempt": "2", "job": "deploy"}
	if diff := cmp.Diff(wantLabels, l.Labels); diff != "" {
		t.Errorf("lease labels (-want +got):\n%s", diff)
	}
	// The key comes from the job, and a random part the step keeps in
	// $RUNNER_TEMP, so a re-run of the step finds the lease but nobody can
	// rebuild the key from the run's metadata.
	if k := l.IdempotencyKey; !strings.HasPrefix(k, "gha-acme/infra-9001-2-deploy-") || !derivedKey.MatchString(k) {
		t.Errorf("idempotency key %q is not derived from the run and the purpose with a random part", k)
	}

	// A re-run of the same step gets the same lease and token back.
	code, stdout2, stderr2 := job.issue(idp.srv.Client(), args...)
	if code != 0 {
		t.Fatalf("re-run returned %d; stderr:\n%s", code, stderr2)
	}
	again := readGitHubFile(t, job.outputFile)
	if again["lease_id"] != id || again["token"] != token || stdout2 != stdout {
		t.Errorf("re-run gave lease %q (token same: %t), want lease %q and the same token", again["lease_id"], again["token"] == token, id)
	}
	if n := b.emu.Count(emulator.RouteV2CreateKey, http.StatusOK); n != 1 {
		t.Errorf("emulator minted %d keys for two runs of one step, want 1", n)
	}

	rcode, rout, rerr := job.run(idp.srv.Client(), "revoke", "--id", id, "--reason", "deploy job finished")
	if rcode != 0 {
		t.Fatalf("token revoke returned %d; stderr:\n%s", rcode, rerr)
	}
	b.checkEnded(t, scheme, token, id, "deploy job finished", stderr, stderr2, rout, rerr)
	for _, s := range []string{stdout, stderr, stderr2, rout, rerr, b.logs.String()} {
		if strings.Contains(s, idp.jwt) || strings.Contains(s, idp.requestToken) {
			t.Errorf("a CI credential was shown in an output or the broker's logs")
		}
	}
}

// readGitHubFile parses NAME<<DELIM records; a later record of a name
// replaces an earlier one, as the runner reads them.
func readGitHubFile(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	for i := 0; i < len(lines); i++ {
		name, delim, ok := strings.Cut(lines[i], "<<")
		if !ok {
			t.Fatalf("%s line %d is not a NAME<<DELIMITER record", path, i+1)
		}
		var value []string
		for i++; i < len(lines) && lines[i] != delim; i++ {
			value = append(value, lines[i])
		}
		if i == len(lines) {
			t.Fatalf("%s: record %s has no closing delimiter", path, name)
		}
		out[name] = strings.Join(value, "\n")
	}
	return out
}
