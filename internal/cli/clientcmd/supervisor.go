package clientcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// childIODelay bounds how long exec waits for a finished command's output
// pipes, which a background grandchild may hold open.
const childIODelay = 10 * time.Second

// supervisor runs exec's command for the life of one lease.
type supervisor struct {
	s     *session
	env   Env
	lease *ztbrokerv1.Lease
	ttl   *durationpb.Duration
	// stderr is shared with the lease keeper, which writes while the
	// command runs.
	stderr *syncWriter
	// key is forgotten once the lease is revoked.
	key stepKey
	// strip, when set, names the variables the command does not inherit.
	strip func(name string) bool
}

func (sv *supervisor) run(ctx context.Context, argv []string, vars [][2]string) int {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = childEnviron(sv.env.Environ, vars, sv.strip)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = sv.env.Stdin, sv.env.Stdout, sv.stderr
	if f, ok := sv.env.Stderr.(*os.File); ok {
		// A terminal stays a terminal for the command.
		cmd.Stderr = f
	}
	cmd.WaitDelay = childIODelay
	if err := cmd.Start(); err != nil {
		code := 126
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, fs.ErrNotExist) {
			code = 127
		}
		sv.end(ctx, fmt.Sprintf("start command: %v", err), "exec: command could not start")
		return code
	}

	keepCtx, stopKeeping := context.WithCancel(context.WithoutCancel(ctx))
	k := &keeper{s: sv.s, clock: sv.env.clock(), out: sv.stderr, lease: sv.lease, ttl: sv.ttl}
	kept := make(chan struct{})
	go func() {
		defer close(kept)
		k.run(keepCtx)
	}()
	state := sv.wait(ctx, cmd)
	stopKeeping()
	<-kept

	sv.end(ctx, "", "exec: command "+describeExit(state))
	return exitStatus(state)
}

// wait forwards signals until the command ends. With no signal channel,
// the context's cancellation stands in for SIGTERM.
func (sv *supervisor) wait(ctx context.Context, cmd *exec.Cmd) *os.ProcessState {
	waited := make(chan struct{})
	go func() {
		// The exit status is read from ProcessState; Wait's error only
		// repeats it.
		_ = cmd.Wait()
		close(waited)
	}()
	var cancelled <-chan struct{}
	if sv.env.Signals == nil {
		cancelled = ctx.Done()
	}
	// Ctrl-C at a terminal already reached the command, which shares our
	// foreground process group; a second SIGINT makes tools like terraform
	// abort without cleaning up.
	f, ok := sv.env.Stdin.(*os.File)
	interactive := ok && isTerminal(f.Fd())
	for {
		select {
		case <-waited:
			return cmd.ProcessState
		case sig := <-sv.env.Signals:
			if interactive && sig == syscall.SIGINT {
				continue
			}
			_ = cmd.Process.Signal(sig)
		case <-cancelled:
			_ = cmd.Process.Signal(syscall.SIGTERM)
			cancelled = nil
		}
	}
}

// end revokes the lease, retrying for up to revokeBudget even when ctx was
// cancelled, and reports the command's failure to start (cause) and any
// revocation failure on one line.
func (sv *supervisor) end(ctx context.Context, cause, reason string) {
	id := sv.lease.GetId()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), revokeBudget)
	defer cancel()
	_, err := sv.s.broker.RevokeLease(rctx, &ztbrokerv1.RevokeLeaseRequest{Id: id, Reason: reason})
	if err == nil {
		sv.key.forget()
	}
	switch {
	case err != nil && cause != "":
		report(sv.stderr, "exec: "+cause+"; ", fmt.Errorf("revoking its lease %s also failed: %w; "+
			"revoke it later with: broker token revoke --id %s", id, err, id))
	case err != nil:
		report(sv.stderr, "", fmt.Errorf("exec: revoke lease %s after the command ended: %w; "+
			"revoke it later with: broker token revoke --id %s", id, err, id))
	case cause != "":
		report(sv.stderr, "exec: ", fmt.Errorf("%s; its lease %s was revoked", cause, id))
	}
}

// childEnviron is base without the variables strip names, plus vars,
// which replace any same-named entries.
func childEnviron(base func() []string, vars [][2]string, strip func(string) bool) []string {
	var env []string
	if base != nil {
		env = base()
	}
	out := make([]string, 0, len(env)+len(vars))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		if !setsVar(vars, name) && (strip == nil || !strip(name)) {
			out = append(out, kv)
		}
	}
	for _, kv := range vars {
		out = append(out, kv[0]+"="+kv[1])
	}
	return out
}

func setsVar(vars [][2]string, name string) bool {
	for _, kv := range vars {
		if kv[0] == name {
			return true
		}
	}
	return false
}

func exitStatus(ps *os.ProcessState) int {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ps.ExitCode()
}

func describeExit(ps *os.ProcessState) string {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return "killed by signal " + ws.Signal().String()
	}
	return fmt.Sprintf("exited with status %d", ps.ExitCode())
}

// syncWriter serialises writes from the keeper and the command's stderr
// copier.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}
