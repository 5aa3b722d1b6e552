package testproc

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// failureTail is how much of a process's stderr a failed test logs: the
// end of it explains the failure, and a test may run many processes.
const failureTail = 8 << 10

// startTimeout bounds how long a process may take to say it is ready.
const startTimeout = 30 * time.Second

// Proc is one running child process.
type Proc struct {
	name   string
	cmd    *exec.Cmd
	stdout output
	stderr output
	done   chan struct{}
	code   int

	// Emulator: URL is its root, AdminToken its admin credential.
	URL        string
	AdminToken string
	// Broker: the bound listener addresses.
	GRPCAddr string
	HTTPAddr string
}

// start runs the binary with args and extra environment, calling watch
// with each stdout or stderr line (per stream) until it returns true. The
// process is killed at cleanup, and its stderr logged if the test failed.
func start(t testing.TB, name string, env []string, watchOut, watchErr func([]byte) bool, args ...string) *Proc {
	t.Helper()
	p := &Proc{name: name, done: make(chan struct{})}
	p.stdout.watch, p.stderr.watch = watchOut, watchErr
	p.cmd = exec.Command(Build(t), args...)
	p.cmd.Env = append(os.Environ(), env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.stdout, &p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("testproc: start %s: %v", name, err)
	}
	go p.reap()
	t.Cleanup(func() {
		p.Kill()
		if t.Failed() {
			t.Logf("testproc: %s (pid %d) stderr tail:\n%s", p.name, p.cmd.Process.Pid, lastBytes(p.Stderr(), failureTail))
		}
	})
	return p
}

func (p *Proc) reap() {
	err := p.cmd.Wait()
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		p.code = ee.ExitCode() // -1 when killed by a signal
	default:
		p.code = -1
	}
	close(p.done)
}

// Kill sends SIGKILL and waits for the process to be gone. Killing a
// process that has already exited does nothing.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Signal delivers sig without waiting.
func (p *Proc) Signal(sig os.Signal) error {
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("testproc: signal %s: %w", p.name, err)
	}
	return nil
}

// Wait blocks until the process exits and returns its exit code, -1 when
// a signal ended it.
func (p *Proc) Wait() int {
	<-p.done
	return p.code
}

// Exited is closed when the process has exited.
func (p *Proc) Exited() <-chan struct{} { return p.done }

// Pid is the process id.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Stderr returns the tail of what the process wrote to stderr.
func (p *Proc) Stderr() string { return p.stderr.String() }

// Stdout returns the tail of what the process wrote to stdout.
func (p *Proc) Stdout() string { return p.stdout.String() }

// awaitLine waits for ready to be closed, failing the test if the process
// exits first or takes longer than startTimeout.
func (p *Proc) awaitLine(t testing.TB, ready <-chan struct{}, what string) {
	t.Helper()
	timer := time.NewTimer(startTimeout)
	defer timer.Stop()
	select {
	case <-ready:
	case <-p.done:
		t.Fatalf("testproc: %s exited with code %d before %s; stderr:\n%s", p.name, p.code, what, p.Stderr())
	case <-timer.C:
		p.Kill()
		t.Fatalf("testproc: %s did not report %s within %s; stderr:\n%s", p.name, what, startTimeout, p.Stderr())
	}
}

// lastBytes returns the end of s, from a line start where one is near.
func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 && i < len(s)-1 {
		s = s[i+1:]
	}
	return s
}
