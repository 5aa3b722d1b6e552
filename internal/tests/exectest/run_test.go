package exectest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/cli/clientcmd"
)

// childPath is the PATH exec's command starts with; nothing else of the
// test process's environment reaches it.
const childPath = "PATH=/usr/local/bin:/usr/bin:/bin"

// execRun is one `broker exec` running in a goroutine.
type execRun struct {
	signals        chan os.Signal
	stdout, stderr *syncBuffer
	done           chan struct{}
	code           int
}

// startExec runs `broker exec --purpose purpose -- <c running body>`
// against addr, authenticated with the broker's API key from the
// environment. The test owns the signal channel, so neither the
// test's context nor its own process signals reach the command. At
// cleanup it opens c's gate and waits for exec, so no goroutine outlives
// the test.
func startExec(t *testing.T, b *liveBroker, addr string, c *child, purpose, body string) *execRun {
	t.Helper()
	r := &execRun{
		signals: make(chan os.Signal, 1),
		stdout:  &syncBuffer{},
		stderr:  &syncBuffer{},
		done:    make(chan struct{}),
	}
	env := clientcmd.Env{
		Stdout: r.stdout,
		Stderr: r.stderr,
		// The key comes from the environment, as CI passes it; on the
		// command line it would warn.
		Getenv: func(k string) string {
			if k == "BROKER_API_KEY" {
				return b.apiKey
			}
			return ""
		},
		Environ: func() []string { return []string{childPath} },
		Signals: r.signals,
	}
	argv := append([]string{"--addr", addr, "--timeout", "20s", "--purpose", purpose, "--"},
		c.argv(body)...)
	go func() {
		defer close(r.done)
		r.code = clientcmd.Exec(context.Background(), argv, env)
	}()
	t.Cleanup(func() {
		c.close()
		select {
		case <-r.done:
		case <-time.After(3 * time.Minute): // longer than exec's revocation budget
			t.Errorf("exec did not return after its command was let go")
		}
	})
	return r
}

// finished reports whether exec has returned.
func (r *execRun) finished() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// waitReady waits until the child has recorded its environment, failing
// at once if exec returned first.
func (r *execRun) waitReady(t *testing.T, c *child) given {
	t.Helper()
	eventually(t, "the command to start", func() bool { return c.ready() || r.finished() })
	if !c.ready() {
		t.Fatalf("exec returned %d before its command started; stderr:\n%s", r.code, r.stderr.String())
	}
	return c.given(t)
}

// wait returns exec's exit code.
func (r *execRun) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-r.done:
		return r.code
	case <-time.After(3 * time.Minute):
		t.Fatalf("exec did not return; stderr:\n%s", r.stderr.String())
		return -1
	}
}
