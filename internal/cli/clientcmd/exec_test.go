package clientcmd

import (
	"context"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// blockingStdin gives the child a stdin that stays open until the test
// closes the returned writer, so the child runs exactly as long as the
// test wants.
func blockingStdin(t *testing.T, h *harness) (closeStdin func()) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close(); w.Close() })
	h.env.Stdin = r
	return func() { w.Close() }
}

func TestExecRunsTheCommandAndRevokes(t *testing.T) {
	t.Parallel()
	const printEnv = `printf '%s|%s|%s|%s|%s' "$ZEROTIER_CENTRAL_TOKEN" "$ZEROTIER_CENTRAL_URL" "$ZEROTIER_AUTH_SCHEME" "$ZTBROKER_LEASE_ID" "$ZT"`
	tests := []struct {
		name string
		args []string
		// act runs once the command is up; it may signal or cancel.
		act        func(t *testing.T, h *harness, signals chan<- os.Signal, cancel context.CancelFunc)
		noSignals  bool
		wantCode   int
		wantStdout string
		wantReason string
	}{
		{
			name:       "exit 0 with the lease in the environment",
			args:       []string{"sh", "-c", printEnv},
			wantCode:   0,
			wantStdout: testToken + "|https://api.zerotier.com/api/v1|Bearer|lease-1|",
			wantReason: "exec: command exited with status 0",
		},
		{
			name:       "exit 3 is propagated",
			args:       []string{"sh", "-c", "exit 3"},
			wantCode:   3,
			wantReason: "exec: command exited with status 3",
		},
		{
			name:       "--env-var renames only the token variable",
			args:       []string{"--env-var", "ZT", "--", "sh", "-c", printEnv},
			wantCode:   0,
			wantStdout: "stale-from-parent|https://api.zerotier.com/api/v1|Bearer|lease-1|" + testToken,
			wantReason: "exec: command exited with status 0",
		},
		{
			name: "SIGTERM is forwarded to a command that handles it",
			args: []string{"sh", "-c", `trap 'echo got TERM; exit 7' TERM; echo ready; while :; do sleep 0.05; done`},
			act: func(t *testing.T, h *harness, signals chan<- os.Signal, _ context.CancelFunc) {
				h.stdout.waitFor(t, "ready")
				signals <- syscall.SIGTERM
			},
			wantCode:   7,
			wantStdout: "ready\ngot TERM\n",
			wantReason: "exec: command exited with status 7",
		},
		{
			name: "death by a forwarded signal is 128+n",
			args: []string{"sh", "-c", "echo ready; read line"},
			act: func(t *testing.T, h *harness, signals chan<- os.Signal, _ context.CancelFunc) {
				h.stdout.waitFor(t, "ready")
				signals <- syscall.SIGTERM
			},
			wantCode:   128 + int(syscall.SIGTERM),
			wantStdout: "ready\n",
			wantReason: "exec: command killed by signal terminated",
		},
		{
			name: "without a signal channel cancellation sends SIGTERM",
			args: []string{"sh", "-c", "echo ready; read line"},
			act: func(t *testing.T, h *harness, _ chan<- os.Signal, cancel context.CancelFunc) {
				h.stdout.waitFor(t, "ready")
				cancel()
			},
			noSignals:  true,
			wantCode:   128 + int(syscall.SIGTERM),
			wantStdout: "ready\n",
			wantReason: "exec: command killed by signal terminated",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var h *harness
			h = newHarness(t, issuingBroker(func() time.Time { return h.clock.Now() }))
			blockingStdin(t, h)
			signals := make(chan os.Signal, 1)
			if !tc.noSignals {
				h.env.Signals = signals
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan int)
			args := append([]string{"--purpose", "deploy"}, tc.args...)
			go func() { done <- Exec(ctx, args, h.env) }()
			if tc.act != nil {
				tc.act(t, h, signals, cancel)
			}
			if code := exitOf(t, done); code != tc.wantCode {
				t.Errorf("exit %d, want %d; stderr %q", code, tc.wantCode, h.stderr)
			}
			if diff := cmp.Diff(tc.wantStdout, h.stdout.String()); diff != "" {
				t.Errorf("stdout (-want +got):\n%s", diff)
			}
			if got := h.stderr.String(); got != "" {
				t.Errorf("stderr = %q, want nothing", got)
			}
			revokes := h.fake.called("RevokeLease")
			if len(revokes) != 1 {
				t.Fatalf("RevokeLease called %d times, want 1", len(revokes))
			}
			want := &ztbrokerv1.RevokeLeaseRequest{Id: "lease-1", Reason: tc.wantReason}
			if diff := cmp.Diff(want.String(), revokes[0].req.(*ztbrokerv1.RevokeLeaseRequest).String()); diff != "" {
				t.Errorf("revoke request (-want +got):\n%s", diff)
			}
		})
	}
}

func TestExecCommandThatCannotStart(t *testing.T) {
	t.Parallel()
	var h *harness
	h = newHarness(t, issuingBroker(func() time.Time { return h.clock.Now() }))
	code := Exec(context.Background(), []string{"--purpose", "deploy", "--", "/nonexistent/tool"}, h.env)
	if code != 127 {
		t.Errorf("exit %d, want 127", code)
	}
	if n := len(h.fake.called("RevokeLease")); n != 1 {
		t.Errorf("RevokeLease called %d times, want 1", n)
	}
	want := "broker: exec: start command: fork/exec /nonexistent/tool: no such file or directory; its lease lease-1 was revoked\n"
	if diff := cmp.Diff(want, h.stderr.String()); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
}

func TestExecRenewsUntilTheMaximumThenWarns(t *testing.T) {
	t.Parallel()
	var h *harness
	renewed := make(chan *ztbrokerv1.RenewLeaseRequest, 10)
	fb := issuingBroker(func() time.Time { return h.clock.Now() })
	var maxExpire time.Time
	fb.issue = func(context.Context, *ztbrokerv1.IssueTokenRequest) (*ztbrokerv1.IssueTokenResponse, error) {
		l := activeLease(h.clock.Now(), "lease-1")
		maxExpire = h.clock.Now().Add(45 * time.Minute)
		l.MaxExpireTime = timestamppb.New(maxExpire)
		return issued(l), nil
	}
	fb.renew = func(_ context.Context, r *ztbrokerv1.RenewLeaseRequest) (*ztbrokerv1.RenewLeaseResponse, error) {
		renewed <- r
		l := activeLease(h.clock.Now(), r.GetId())
		expire := h.clock.Now().Add(r.GetTtl().AsDuration())
		if expire.After(maxExpire) {
			expire = maxExpire
		}
		l.ExpireTime = timestamppb.New(expire)
		l.MaxExpireTime = timestamppb.New(maxExpire)
		return &ztbrokerv1.RenewLeaseResponse{Lease: l}, nil
	}
	h = newHarness(t, fb)
	closeStdin := blockingStdin(t, h)
	done := make(chan int)
	go func() {
		done <- Exec(context.Background(), []string{"--purpose", "deploy", "--ttl", "30m", "--", "sh", "-c", "read line; exit 0"}, h.env)
	}()

	// Two thirds into the 30 minute lease it is renewed for another 30,
	// which the maximum caps at 45 minutes after issue.
	tm := h.clock.next(t)
	if tm.d != 20*time.Minute {
		t.Errorf("first renewal after %s, want 20m", tm.d)
	}
	tm.fire()
	if r := <-renewed; r.GetId() != "lease-1" || r.GetTtl().AsDuration() != 30*time.Minute {
		t.Errorf("renew request = %v, want lease-1 for 30m", r)
	}
	// Now at 20m, with nothing left to renew: warn a minute before 45m.
	tm = h.clock.next(t)
	if tm.d != 24*time.Minute {
		t.Errorf("warning after %s, want 24m", tm.d)
	}
	tm.fire()
	h.stderr.waitFor(t, "reaches its maximum lifetime")
	closeStdin()

	if code := exitOf(t, done); code != 0 {
		t.Errorf("exit %d, want 0", code)
	}
	wantStderr := "broker: warning: lease lease-1 reaches its maximum lifetime at " + stamp(timestamppb.New(maxExpire)) +
		" and cannot be renewed further; the command is still running and its token stops working then\n"
	if diff := cmp.Diff(wantStderr, h.stderr.String()); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
	if n := len(h.fake.called("RenewLease")); n != 1 {
		t.Errorf("RenewLease called %d times, want 1", n)
	}
	if n := len(h.fake.called("RevokeLease")); n != 1 {
		t.Errorf("RevokeLease called %d times, want 1", n)
	}
}

func TestExecRetriesTheRevocation(t *testing.T) {
	t.Parallel()
	var h *harness
	fb := issuingBroker(func() time.Time { return h.clock.Now() })
	attempts := 0
	fb.revoke = func(ctx context.Context, r *ztbrokerv1.RevokeLeaseRequest) (*ztbrokerv1.RevokeLeaseResponse, error) {
		if attempts++; attempts <= 2 {
			return nil, status.Error(codes.Unavailable, "connection lost")
		}
		return okRevoke(ctx, r)
	}
	h = newHarness(t, fb)
	done := make(chan int)
	go func() {
		done <- Exec(context.Background(), []string{"--purpose", "deploy", "--", "sh", "-c", "exit 3"}, h.env)
	}()

	if tm := h.clock.next(t); tm.d != 20*time.Minute {
		t.Fatalf("first timer %s, want the 20m renewal timer", tm.d)
	}
	for range 2 {
		h.clock.next(t).fire()
	}
	if code := exitOf(t, done); code != 3 {
		t.Errorf("exit %d, want 3", code)
	}
	if n := len(h.fake.called("RevokeLease")); n != 3 {
		t.Errorf("RevokeLease called %d times, want 3", n)
	}
	if got := h.stderr.String(); got != "" {
		t.Errorf("stderr = %q, want nothing", got)
	}
}

func TestExecReportsAFailedRevocationWithTheLeaseID(t *testing.T) {
	t.Parallel()
	var h *harness
	fb := issuingBroker(func() time.Time { return h.clock.Now() })
	fb.revoke = func(context.Context, *ztbrokerv1.RevokeLeaseRequest) (*ztbrokerv1.RevokeLeaseResponse, error) {
		return nil, status.Error(codes.PermissionDenied, "permission denied")
	}
	h = newHarness(t, fb)
	code := Exec(context.Background(), []string{"--purpose", "deploy", "--", "sh", "-c", "exit 3"}, h.env)
	if code != 3 {
		t.Errorf("exit %d, want the command's 3", code)
	}
	want := "broker: exec: revoke lease lease-1 after the command ended: permission denied; " +
		"revoke it later with: broker token revoke --id lease-1\n"
	if diff := cmp.Diff(want, h.stderr.String()); diff != "" {
		t.Errorf("stderr (-want +got):\n%s", diff)
	}
}

func TestExecNeverRunsWithoutAToken(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		args     []string
		wantCode int
	}{
		{name: "no command", args: []string{"--purpose", "deploy"}, wantCode: ExitUsage},
		{name: "no purpose", args: []string{"--", "true"}, wantCode: ExitUsage},
		{name: "bad env var", args: []string{"--purpose", "deploy", "--env-var", "A-B", "--", "true"}, wantCode: ExitUsage},
		{name: "denied", args: []string{"--purpose", "secret", "--", "sh", "-c", "echo ran"}, wantCode: ExitPermissionDenied},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, &fakeBroker{issue: func(context.Context, *ztbrokerv1.IssueTokenRequest) (*ztbrokerv1.IssueTokenResponse, error) {
				return nil, status.Error(codes.PermissionDenied, "permission denied")
			}})
			if code := Exec(context.Background(), tc.args, h.env); code != tc.wantCode {
				t.Errorf("exit %d, want %d", code, tc.wantCode)
			}
			if h.stdout.String() != "" || strings.Count(h.stderr.String(), "\n") != 1 {
				t.Errorf("stdout %q stderr %q, want no output and one error line", h.stdout, h.stderr)
			}
		})
	}
}

// TestExecKeyLivesForOneStepsRetries runs exec three times in one GitHub
// Actions step: an attempt that cannot issue, its retry, and a later run
// after the first lease was revoked. The retry sends the first attempt's
// key; the later run a new one, since replaying a revoked lease can only
// fail.
func TestExecKeyLivesForOneStepsRetries(t *testing.T) {
	t.Parallel()
	var h *harness
	var issued atomic.Int32
	fb := issuingBroker(func() time.Time { return h.clock.Now() })
	okIssue := fb.issue
	fb.issue = func(ctx context.Context, r *ztbrokerv1.IssueTokenRequest) (*ztbrokerv1.IssueTokenResponse, error) {
		if issued.Add(1) == 1 {
			return nil, status.Error(codes.PermissionDenied, "not yet")
		}
		return okIssue(ctx, r)
	}
	h = newHarness(t, fb)
	for k, v := range map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_REPOSITORY": "acme/infra", "GITHUB_RUN_ID": "1",
		"GITHUB_RUN_ATTEMPT": "1", "GITHUB_JOB": "deploy", "GITHUB_ACTION": "__run", "RUNNER_TEMP": t.TempDir(),
	} {
		h.vars[k] = v
	}
	run := func() int {
		return Exec(context.Background(), []string{"--purpose", "deploy", "--", "true"}, h.env)
	}
	if code := run(); code != ExitPermissionDenied {
		t.Fatalf("first attempt exit %d, want %d", code, ExitPermissionDenied)
	}
	if code := run(); code != 0 {
		t.Fatalf("retry exit %d; stderr %q", code, h.stderr)
	}
	if code := run(); code != 0 {
		t.Fatalf("later run exit %d; stderr %q", code, h.stderr)
	}
	var keys []string
	for _, c := range h.fake.called("IssueToken") {
		keys = append(keys, c.req.(*ztbrokerv1.IssueTokenRequest).GetIdempotencyKey())
	}
	if len(keys) != 3 || keys[0] != keys[1] || keys[2] == keys[1] {
		t.Errorf("keys %q: want the retry to repeat the first and the later run to differ", keys)
	}
	for _, k := range keys {
		if !nonceSuffix.MatchString(k) {
			t.Errorf("key %q carries no random part", k)
		}
	}
}
