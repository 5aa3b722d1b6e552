package clientcmd

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

func TestHelpDocumentsTheEnvironment(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		run  func(context.Context, []string, Env) int
		args []string
		want []string
	}{
		{name: "token issue", run: Token, args: []string{"issue", "--help"},
			want: []string{"Usage: broker token issue", "BROKER_ADDR", "BROKER_API_KEY", "BROKER_OIDC", "BROKER_OIDC_AUDIENCE",
				"BROKER_TLS_CA", "BROKER_TLS_CERT", "BROKER_TLS_KEY", "BROKER_TIMEOUT", "BROKER_INSECURE", "Exit codes"}},
		{name: "exec", run: Exec, args: []string{"-h"},
			want: []string{"Usage: broker exec", "ZTBROKER_LEASE_ID", "128+n", "BROKER_ADDR"}},
		{name: "admin", run: Admin, args: []string{"--help"}, want: []string{"broker admin revoke", "broker admin audit"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			stdout, stderr := newSyncBuffer(), newSyncBuffer()
			env := Env{Stdout: stdout, Stderr: stderr, Getenv: func(string) string { return "" }}
			if code := tc.run(context.Background(), tc.args, env); code != ExitOK {
				t.Errorf("exit %d, want 0", code)
			}
			for _, w := range tc.want {
				if !strings.Contains(stdout.String(), w) {
					t.Errorf("help lacks %q:\n%s", w, stdout)
				}
			}
			if stderr.String() != "" {
				t.Errorf("stderr = %q", stderr)
			}
		})
	}
}

func TestASignalCancelsTokenCommands(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	h := newHarness(t, &fakeBroker{issue: func(ctx context.Context, _ *ztbrokerv1.IssueTokenRequest) (*ztbrokerv1.IssueTokenResponse, error) {
		close(started)
		<-ctx.Done()
		return nil, ctx.Err()
	}})
	signals := make(chan os.Signal, 1)
	h.env.Signals = signals
	done := make(chan int)
	go func() { done <- Token(context.Background(), []string{"issue", "--purpose", "deploy"}, h.env) }()
	<-started
	signals <- syscall.SIGINT
	if code := exitOf(t, done); code != ExitFailure {
		t.Errorf("exit %d, want %d", code, ExitFailure)
	}
	if got := h.stderr.String(); !strings.Contains(got, "canceled") {
		t.Errorf("stderr = %q, want a cancellation", got)
	}
}
