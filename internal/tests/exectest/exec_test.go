package exectest

import (
	"syscall"
	"testing"
)

// TestExecRevokesHoweverTheCommandEnds runs a command that holds a live
// token until the test lets it end, and checks that exec hands back its
// status and the token dies with it.
func TestExecRevokesHoweverTheCommandEnds(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		// end makes the running command finish.
		end        func(t *testing.T, c *child, r *execRun)
		wantCode   int
		wantSignal string
		wantReason string
	}{
		{
			name:       "exit 0",
			body:       `read _ < "$d/gate"; exit 0`,
			end:        func(t *testing.T, c *child, _ *execRun) { c.release(t) },
			wantCode:   0,
			wantReason: "exec: command exited with status 0",
		},
		{
			name:       "exit 7",
			body:       `read _ < "$d/gate"; exit 7`,
			end:        func(t *testing.T, c *child, _ *execRun) { c.release(t) },
			wantCode:   7,
			wantReason: "exec: command exited with status 7",
		},
		{
			name: "SIGTERM forwarded to a command that traps it",
			body: `trap 'echo TERM > "$d/signal"; exit 143' TERM
read _ < "$d/gate"; exit 0`,
			end:        func(_ *testing.T, _ *child, r *execRun) { r.signals <- syscall.SIGTERM },
			wantCode:   143,
			wantSignal: "TERM",
			wantReason: "exec: command exited with status 143",
		},
		{
			// The README once said only SIGINT and SIGTERM; exec --help
			// says SIGHUP too, and this holds it to that.
			name: "SIGHUP forwarded to a command that traps it",
			body: `trap 'echo HUP > "$d/signal"; exit 129' HUP
read _ < "$d/gate"; exit 0`,
			end:        func(_ *testing.T, _ *child, r *execRun) { r.signals <- syscall.SIGHUP },
			wantCode:   129,
			wantSignal: "HUP",
			wantReason: "exec: command exited with status 129",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := startBroker(t)
			c := newChild(t)
			r := startExec(t, b, b.grpcAddr, c, purposeCI, tt.body)
			g := r.waitReady(t, c)
			b.checkLive(t, g.scheme, g.token)

			tt.end(t, c, r)
			if code := r.wait(t); code != tt.wantCode {
				t.Errorf("exec returned %d, want %d; stderr:\n%s", code, tt.wantCode, r.stderr.String())
			}
			if got := c.file("signal"); got != tt.wantSignal {
				t.Errorf("command recorded signal %q, want %q", got, tt.wantSignal)
			}
			b.checkEnded(t, g.scheme, g.token, g.leaseID, tt.wantReason, r.stdout.String(), r.stderr.String())
		})
	}
}
