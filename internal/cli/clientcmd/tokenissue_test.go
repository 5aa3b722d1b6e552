package clientcmd

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/testing/protocmp"
	"google.golang.org/protobuf/types/known/durationpb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/restjson"
)

// issuingBroker issues one token for any request.
func issuingBroker(clk func() time.Time) *fakeBroker {
	return &fakeBroker{
		issue: func(context.Context, *ztbrokerv1.IssueTokenRequest) (*ztbrokerv1.IssueTokenResponse, error) {
			return issued(activeLease(clk(), "lease-1")), nil
		},
		revoke: okRevoke,
	}
}

func TestIssueFormats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		format string
		want   func(h *harness) string
	}{
		{format: "raw", want: func(*harness) string { return testToken + "\n" }},
		{format: "env", want: func(*harness) string {
			return "ZEROTIER_CENTRAL_TOKEN='" + testToken + "'\n" +
				"ZEROTIER_CENTRAL_URL='https://api.zerotier.com/api/v1'\n" +
				"ZEROTIER_AUTH_SCHEME='Bearer'\n" +
				"ZTBROKER_LEASE_ID='lease-1'\n"
		}},
	}
	for _, tc := range tests {
		t.Run(tc.format, func(t *testing.T) {
			t.Parallel()
			var h *harness
			h = newHarness(t, issuingBroker(func() time.Time { return h.clock.Now() }))
			code := Token(context.Background(), []string{"issue", "--purpose", "deploy", "--ttl", "10m",
				"--label", "team=infra", "--format", tc.format}, h.env)
			if code != ExitOK {
				t.Fatalf("exit %d, stderr %q", code, h.stderr)
			}
			if diff := cmp.Diff(tc.want(h), h.stdout.String()); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			calls := h.fake.called("IssueToken")
			if len(calls) != 1 {
				t.Fatalf("IssueToken called %d times, want 1", len(calls))
			}
			if got, want := calls[0].authz, "Bearer "+testAPIKey; got != want {
				t.Errorf("authorization = %q, want %q", got, want)
			}
			req := calls[0].req.(*ztbrokerv1.IssueTokenRequest)
			if !strings.HasPrefix(req.GetIdempotencyKey(), "cli-") {
				t.Errorf("idempotency key %q outside CI, want a random cli- key", req.GetIdempotencyKey())
			}
			want := &ztbrokerv1.IssueTokenRequest{Purpose: "deploy", Ttl: durationpb.New(10 * time.Minute),
				Labels: map[string]string{"team": "infra"}, IdempotencyKey: req.GetIdempotencyKey()}
			if diff := cmp.Diff(want, req, protocmp.Transform()); diff != "" {
				t.Errorf("request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIssueJSONIsTheFullResponse(t *testing.T) {
	t.Parallel()
	var h *harness
	h = newHarness(t, issuingBroker(func() time.Time { return h.clock.Now() }))
	if code := Token(context.Background(), []string{"issue", "--purpose", "deploy", "--format", "json"}, h.env); code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, h.stderr)
	}
	var got ztbrokerv1.IssueTokenResponse
	if err := protojson.Unmarshal([]byte(h.stdout.String()), &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(issued(activeLease(h.clock.Now(), "lease-1")), &got, protocmp.Transform()); diff != "" {
		t.Errorf("json output (-want +got):\n%s", diff)
	}
}

// readGitHubFile parses name<<DELIM records the way the runner does.
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
			t.Fatalf("line %q is not a heredoc record", lines[i])
		}
		if name != "EARLIER" && !regexp.MustCompile(`^ZTBROKER_EOF_[0-9a-f]{32}$`).MatchString(delim) {
			t.Errorf("delimiter %q is not random", delim)
		}
		var val []string
		for i++; i < len(lines) && lines[i] != delim; i++ {
			val = append(val, lines[i])
		}
		out[name] = strings.Join(val, "\n")
	}
	return out
}

func TestIssueGitHubFormat(t *testing.T) {
	t.Parallel()
	var h *harness
	h = newHarness(t, issuingBroker(func() time.Time { return h.clock.Now() }))
	dir := t.TempDir()
	h.vars["GITHUB_OUTPUT"] = filepath.Join(dir, "output")
	h.vars["GITHUB_ENV"] = filepath.Join(dir, "env")
	// The runner's files may already hold earlier steps' records.
	if err := os.WriteFile(h.vars["GITHUB_ENV"], []byte("EARLIER<<X\nkept\nX\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	if code := Token(context.Background(), []string{"issue", "--purpose", "deploy", "--format", "github"}, h.env); code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, h.stderr)
	}
	if diff := cmp.Diff("::add-mask::"+testToken+"\n", h.stdout.String()); diff != "" {
		t.Errorf("stdout must be the mask command alone (-want +got):\n%s", diff)
	}
	if got := h.stderr.String(); got != "" {
		t.Errorf("stderr = %q, want nothing", got)
	}
	wantOutputs := map[string]string{
		"lease_id":     "lease-1",
		"api_base_url": "https://api.zerotier.com/api/v1",
		"auth_scheme":  "Bearer",
		"token":        testToken,
	}
	if diff := cmp.Diff(wantOutputs, readGitHubFile(t, h.vars["GITHUB_OUTPUT"])); diff != "" {
		t.Errorf("GITHUB_OUTPUT (-want +got):\n%s", diff)
	}
	wantEnv := map[string]string{
		"EARLIER":                "kept",
		"ZEROTIER_CENTRAL_TOKEN": testToken,
		"ZEROTIER_CENTRAL_URL":   "https://api.zerotier.com/api/v1",
		"ZEROTIER_AUTH_SCHEME":   "Bearer",
		"ZTBROKER_LEASE_ID":      "lease-1",
	}
	if diff := cmp.Diff(wantEnv, readGitHubFile(t, h.vars["GITHUB_ENV"])); diff != "" {
		t.Errorf("GITHUB_ENV (-want +got):\n%s", diff)
	}
}

func TestIssueGitHubFormatOutsideActionsMintsNothing(t *testing.T) {
	t.Parallel()
	var h *harness
	h = newHarness(t, issuingBroker(func() time.Time { return h.clock.Now() }))
	code := Token(context.Background(), []string{"issue", "--purpose", "deploy", "--format", "github"}, h.env)
	if code != ExitUsage {
		t.Errorf("exit %d, want %d", code, ExitUsage)
	}
	if n := len(h.fake.called("IssueToken")); n != 0 {
		t.Errorf("IssueToken called %d times, want 0", n)
	}
}

// failingWriter refuses every write, like a closed pipe.
type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

func TestIssueRevokesWhenTheTokenCannotBeDelivered(t *testing.T) {
	t.Parallel()
	var h *harness
	h = newHarness(t, issuingBroker(func() time.Time { return h.clock.Now() }))
	h.env.Stdout = failingWriter{}
	code := Token(context.Background(), []string{"issue", "--purpose", "deploy"}, h.env)
	if code != ExitFailure {
		t.Errorf("exit %d, want %d", code, ExitFailure)
	}
	revokes := h.fake.called("RevokeLease")
	if len(revokes) != 1 || revokes[0].req.(*ztbrokerv1.RevokeLeaseRequest).GetId() != "lease-1" {
		t.Fatalf("revocations = %v, want lease-1 once", revokes)
	}
	want := "broker: deliver token: broken pipe; its lease lease-1 was revoked\n"
	if diff := cmp.Diff(want, h.stderr.String()); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
}

func TestIssueRetriesTransientFailuresWithOneKey(t *testing.T) {
	t.Parallel()
	withRetryInfo := func(c codes.Code, d time.Duration) error {
		st, err := status.New(c, "slow down").WithDetails(&errdetails.RetryInfo{RetryDelay: durationpb.New(d)})
		if err != nil {
			panic(err)
		}
		return st.Err()
	}
	tests := []struct {
		name string
		// fail makes the n-th failing attempt fail.
		fail      func(ctx context.Context, n int) error
		wantDelay []time.Duration // exact, or zero for jittered backoff
	}{
		{
			name:      "unavailable backs off",
			fail:      func(context.Context, int) error { return status.Error(codes.Unavailable, "restarting") },
			wantDelay: []time.Duration{0, 0},
		},
		{
			name:      "retry info is honoured",
			fail:      func(context.Context, int) error { return withRetryInfo(codes.ResourceExhausted, 3*time.Second) },
			wantDelay: []time.Duration{3 * time.Second, 3 * time.Second},
		},
		{
			name: "aborted backs off",
			fail: func(context.Context, int) error {
				return status.Error(codes.Aborted, "the lease changed concurrently; retry")
			},
			wantDelay: []time.Duration{0},
		},
		{
			name: "retry-after trailer is honoured",
			fail: func(ctx context.Context, n int) error {
				_ = grpc.SetTrailer(ctx, metadata.Pairs("retry-after", "7"))
				return status.Error(codes.Unavailable, "draining")
			},
			wantDelay: []time.Duration{7 * time.Second, 7 * time.Second},
		},
		{
			name: "retry-after header is honoured",
			fail: func(ctx context.Context, n int) error {
				_ = grpc.SetHeader(ctx, metadata.Pairs("retry-after", "2"))
				return status.Error(codes.ResourceExhausted, "quota")
			},
			wantDelay: []time.Duration{2 * time.Second, 2 * time.Second},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var h *harness
			fb := issuingBroker(func() time.Time { return h.clock.Now() })
			attempts := 0
			fb.issue = func(ctx context.Context, r *ztbrokerv1.IssueTokenRequest) (*ztbrokerv1.IssueTokenResponse, error) {
				attempts++
				if attempts <= len(tc.wantDelay) {
					return nil, tc.fail(ctx, attempts)
				}
				return issued(activeLease(h.clock.Now(), "lease-1")), nil
			}
			h = newHarness(t, fb)
			done := make(chan int)
			go func() { done <- Token(context.Background(), []string{"issue", "--purpose", "deploy"}, h.env) }()
			for i, want := range tc.wantDelay {
				tm := h.clock.next(t)
				if want == 0 {
					base := (250 * time.Millisecond) << i // the client's first backoff, doubling
					if tm.d < base/2 || tm.d > base {
						t.Errorf("backoff %d = %s, want within [%s, %s]", i, tm.d, base/2, base)
					}
				} else if tm.d != want {
					t.Errorf("delay %d = %s, want %s", i, tm.d, want)
				}
				tm.fire()
			}
			if code := exitOf(t, done); code != ExitOK {
				t.Fatalf("exit %d, stderr %q", code, h.stderr)
			}
			if got := h.stdout.String(); got != testToken+"\n" {
				t.Errorf("stdout = %q", got)
			}
			calls := h.fake.called("IssueToken")
			if len(calls) != len(tc.wantDelay)+1 {
				t.Fatalf("IssueToken called %d times, want %d", len(calls), len(tc.wantDelay)+1)
			}
			key := calls[0].req.(*ztbrokerv1.IssueTokenRequest).GetIdempotencyKey()
			for i, c := range calls {
				if got := c.req.(*ztbrokerv1.IssueTokenRequest).GetIdempotencyKey(); got != key || key == "" {
					t.Errorf("attempt %d idempotency key %q, want %q on every attempt", i, got, key)
				}
			}
		})
	}
}

func TestIssueFailuresAreOneLineWithDistinctCodes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		err        error
		wantCode   int
		wantStderr string
	}{
		{
			name:       "permission denied",
			err:        status.Error(codes.PermissionDenied, `no rule of purpose "deploy" admits caller "api_key:ci"`),
			wantCode:   ExitPermissionDenied,
			wantStderr: `broker: issue token for purpose "deploy": permission denied: no rule of purpose "deploy" admits caller "api_key:ci"` + "\n",
		},
		{
			name:       "unauthenticated",
			err:        status.Error(codes.Unauthenticated, "missing or invalid credentials"),
			wantCode:   ExitUnauthenticated,
			wantStderr: `broker: issue token for purpose "deploy": unauthenticated: missing or invalid credentials` + "\n",
		},
		{
			name:       "not found",
			err:        status.Error(codes.NotFound, "purpose \"deploy\"\ndoes not exist"),
			wantCode:   ExitNotFound,
			wantStderr: `broker: issue token for purpose "deploy": not found: purpose "deploy" does not exist` + "\n",
		},
		{
			name:       "invalid argument",
			err:        status.Error(codes.InvalidArgument, "ttl exceeds the maximum"),
			wantCode:   ExitRejected,
			wantStderr: `broker: issue token for purpose "deploy": invalid argument: ttl exceeds the maximum` + "\n",
		},
		{
			name:       "internal",
			err:        status.Error(codes.Internal, "internal error"),
			wantCode:   ExitFailure,
			wantStderr: `broker: issue token for purpose "deploy": internal: internal error` + "\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fb := &fakeBroker{issue: func(context.Context, *ztbrokerv1.IssueTokenRequest) (*ztbrokerv1.IssueTokenResponse, error) {
				return nil, tc.err
			}}
			h := newHarness(t, fb)
			code := Token(context.Background(), []string{"issue", "--purpose", "deploy"}, h.env)
			if code != tc.wantCode {
				t.Errorf("exit %d, want %d", code, tc.wantCode)
			}
			if diff := cmp.Diff(tc.wantStderr, h.stderr.String()); diff != "" {
				t.Errorf("stderr (-want +got):\n%s", diff)
			}
			if n := len(fb.called("IssueToken")); n != 1 {
				t.Errorf("IssueToken called %d times; a permanent error must not be retried", n)
			}
			if strings.Contains(h.stderr.String(), testAPIKey) || h.stdout.String() != "" {
				t.Errorf("output leaks: stdout %q stderr %q", h.stdout, h.stderr)
			}
		})
	}
}

func TestIssueStopsRetryingWhenTheDelayPassesTheDeadline(t *testing.T) {
	t.Parallel()
	fb := &fakeBroker{issue: func(ctx context.Context, _ *ztbrokerv1.IssueTokenRequest) (*ztbrokerv1.IssueTokenResponse, error) {
		_ = grpc.SetHeader(ctx, metadata.Pairs("retry-after", "120"))
		return nil, status.Error(codes.ResourceExhausted, "quota exceeded")
	}}
	h := newHarness(t, fb)
	code := Token(context.Background(), []string{"issue", "--purpose", "deploy", "--timeout", "30s"}, h.env)
	if code != ExitUnavailable {
		t.Errorf("exit %d, want %d", code, ExitUnavailable)
	}
	want := `broker: issue token for purpose "deploy": resource exhausted: quota exceeded ` +
		"(gave up after 1 attempt; the next retry, in 2m0s, would pass the deadline)\n"
	if diff := cmp.Diff(want, h.stderr.String()); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
}

func TestIssueRefusesASpentIdempotencyKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		resp func(now time.Time) *ztbrokerv1.IssueTokenResponse
	}{
		{name: "replay without token", resp: func(now time.Time) *ztbrokerv1.IssueTokenResponse {
			r := issued(activeLease(now, "lease-1"))
			r.Token, r.Replayed = "", true
			return r
		}},
		{name: "replay of a revoked lease", resp: func(now time.Time) *ztbrokerv1.IssueTokenResponse {
			r := issued(activeLease(now, "lease-1"))
			r.Lease.State, r.Replayed = ztbrokerv1.Lease_STATE_REVOKED, true
			return r
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var h *harness
			h = newHarness(t, &fakeBroker{issue: func(context.Context, *ztbrokerv1.IssueTokenRequest) (*ztbrokerv1.IssueTokenResponse, error) {
				return tc.resp(h.clock.Now()), nil
			}})
			code := Token(context.Background(), []string{"issue", "--purpose", "deploy", "--idempotency-key", "k1"}, h.env)
			if code != ExitRejected {
				t.Errorf("exit %d, want %d", code, ExitRejected)
			}
			if got := h.stderr.String(); !strings.Contains(got, `idempotency key already used "k1"`) || strings.Count(got, "\n") != 1 {
				t.Errorf("stderr = %q, want one line naming the spent key", got)
			}
			if h.stdout.String() != "" {
				t.Errorf("stdout = %q, want nothing", h.stdout)
			}
		})
	}
}

// TestJSONIsWhatRESTAnswers holds the CLI's JSON to the REST door's own
// encoding of the same response: the same snake_case names, the same
// values, so one script reads both.
func TestJSONIsWhatRESTAnswers(t *testing.T) {
	t.Parallel()
	var h *harness
	h = newHarness(t, issuingBroker(func() time.Time { return h.clock.Now() }))
	if code := Token(context.Background(), []string{"issue", "--purpose", "deploy", "--format", "json"}, h.env); code != ExitOK {
		t.Fatalf("exit %d, stderr %q", code, h.stderr)
	}
	rest, err := restjson.New().Marshal(issued(activeLease(h.clock.Now(), "lease-1")))
	if err != nil {
		t.Fatal(err)
	}
	var got, want map[string]any
	if err := json.Unmarshal([]byte(h.stdout.String()), &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(rest, &want); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("CLI JSON differs from REST's (-rest +cli):\n%s", diff)
	}
	if _, ok := got["api_base_url"]; !ok {
		t.Errorf("no api_base_url in %s", h.stdout)
	}
}
