package e2e

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
)

// buildBroker compiles cmd/broker from the module root into a temporary
// directory.
func buildBroker(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	bin := filepath.Join(t.TempDir(), "broker")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/broker")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// process is a started command whose chosen output stream is scanned
// line by line; every line is also kept for failure messages.
type process struct {
	cmd   *exec.Cmd
	lines chan string
	mu    sync.Mutex
	all   bytes.Buffer
	done  chan struct{}
	err   error
}

// start runs bin with args and env, watching stdout or stderr; the other
// stream is kept too. The process is killed at cleanup if still running.
func start(t *testing.T, bin string, env []string, watchStderr bool, args ...string) *process {
	t.Helper()
	p := &process{cmd: exec.Command(bin, args...), lines: make(chan string, 1024), done: make(chan struct{})}
	p.cmd.Env = append(os.Environ(), env...)
	watched, other := &p.cmd.Stdout, &p.cmd.Stderr
	if watchStderr {
		watched, other = other, watched
	}
	pr, pw := io.Pipe()
	*watched = pw
	*other = &lockedWriter{p}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", args[0], err)
	}
	scanned := make(chan struct{})
	go func() {
		defer close(scanned)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			_, _ = (&lockedWriter{p}).Write([]byte(line + "\n"))
			select {
			case p.lines <- line:
			default:
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	go func() {
		p.err = p.cmd.Wait()
		_ = pw.Close()
		<-scanned
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	return p
}

type lockedWriter struct{ p *process }

func (w *lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.all.Write(b)
}

func (p *process) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.all.String()
}

// waitLine returns the first watched line match accepts.
func (p *process) waitLine(t *testing.T, ctx context.Context, match func(string) bool) string {
	t.Helper()
	for {
		select {
		case line := <-p.lines:
			if match(line) {
				return line
			}
		case <-p.done:
			t.Fatalf("process exited (%v) before the awaited line:\n%s", p.err, p.output())
		case <-ctx.Done():
			t.Fatalf("no awaited line: %v\n%s", ctx.Err(), p.output())
		}
	}
}

// terminate sends SIGTERM and returns the exit code.
func (p *process) terminate(t *testing.T, ctx context.Context) int {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-p.done:
	case <-ctx.Done():
		t.Fatalf("process did not stop after SIGTERM:\n%s", p.output())
	}
	return p.cmd.ProcessState.ExitCode()
}
