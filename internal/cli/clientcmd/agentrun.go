package clientcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/ztbroker/ztbroker/client"
	"github.com/ztbroker/ztbroker/internal/cli/sink"
)

// agent is one `broker agent` run.
type agent struct {
	plan    agentPlan
	env     Env
	clock   Clock
	stderr  *syncWriter
	timeout time.Duration
	ts      *client.TokenSource

	mu sync.Mutex
	// written is the token the sinks hold; writeErr the last failure to
	// write them.
	written  *client.Token
	writeErr error
	lastWarn string
}

func (a *agent) run(ctx context.Context) int {
	stop := a.stopSignals(ctx)
	if a.plan.health != "" {
		h, err := a.serveHealth()
		if err != nil {
			_ = a.ts.Close()
			return fail(a.env, fmt.Errorf("agent: %w", err))
		}
		defer h.shutdown()
	}
	var ch *child
	for {
		changed := a.ts.Changed()
		tctx, cancel := context.WithTimeout(ctx, a.timeout)
		tok, err := a.ts.Token(tctx)
		cancel()
		switch {
		case err != nil && a.current() == nil && permanent(err):
			// A token was never had: a configuration the operator must
			// fix, better shown by exiting than by waiting.
			_ = a.ts.Close()
			return fail(a.env, fmt.Errorf("agent: %w", err))
		case err != nil:
			a.warn(err)
		case a.differs(tok):
			prev := a.current()
			if !a.write(tok) {
				break
			}
			if a.plan.exec == "" {
				break
			}
			if ch == nil {
				if ch, err = startChild(a.plan.exec, a.env, a.stderr); err != nil {
					a.end(nil)
					return fail(a.env, fmt.Errorf("agent: --exec: %w", err))
				}
			} else if prev.Value != tok.Value {
				if ch, err = a.reload(ch); err != nil {
					a.end(nil)
					return fail(a.env, fmt.Errorf("agent: --exec: restart: %w", err))
				}
			}
		}
		select {
		case <-changed:
		case sig := <-stop:
			if sig == syscall.SIGHUP {
				if ch != nil {
					ch.signal(sig)
				}
				continue
			}
			return a.end(ch.stop(sig, a.plan.stopTimeout, a.clock))
		case <-ch.done():
			report(a.stderr, "", fmt.Errorf("agent: the command %s; revoking the lease", describeExit(ch.state)))
			a.end(nil)
			return exitStatus(ch.state)
		}
	}
}

// stopSignals is where the signals that matter to the agent arrive: the
// process's, or, without them, ctx's end as a SIGTERM.
func (a *agent) stopSignals(ctx context.Context) <-chan os.Signal {
	if a.env.Signals != nil {
		return a.env.Signals
	}
	out := make(chan os.Signal, 1)
	go func() {
		<-ctx.Done()
		out <- syscall.SIGTERM
	}()
	return out
}

// end revokes the lease and removes the sinks: nothing the agent wrote
// outlives it. It returns the agent's exit code.
func (a *agent) end(stopErr error) int {
	code := ExitOK
	if stopErr != nil {
		report(a.stderr, "", fmt.Errorf("agent: %w", stopErr))
	}
	if err := a.ts.Close(); err != nil {
		report(a.stderr, "", fmt.Errorf("agent: revoke the lease: %w; it ends at its expiry", err))
		code = exitCode(err)
	}
	for _, s := range a.plan.sinks {
		if err := os.Remove(s.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			report(a.stderr, "", fmt.Errorf("agent: remove %s: %w", s.Path, err))
		}
	}
	a.mu.Lock()
	a.written = nil
	a.mu.Unlock()
	return code
}

func (a *agent) current() *client.Token {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.written
}

// differs reports whether tok is not what the sinks hold.
func (a *agent) differs(tok *client.Token) bool {
	w := a.current()
	return w == nil || w.Value != tok.Value || !w.Expiry().Equal(tok.Expiry()) ||
		w.APIBaseURL != tok.APIBaseURL || w.Scheme != tok.Scheme
}

// write puts tok in every sink. On a failure the sinks may hold the old
// token or the new one, each whole; readiness then follows the old one.
func (a *agent) write(tok *client.Token) bool {
	d := sink.Data{Token: tok.Value, APIBaseURL: tok.APIBaseURL, AuthScheme: tok.Scheme,
		LeaseID: tok.Lease.ID, Purpose: tok.Lease.Purpose, Expires: tok.Expiry()}
	var errs []error
	for _, s := range a.plan.sinks {
		b, err := s.Render(d)
		if err == nil {
			err = sink.WriteFile(s.Path, b, a.plan.owner)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", s, err))
		}
	}
	err := errors.Join(errs...)
	a.mu.Lock()
	a.writeErr = err
	if err == nil {
		a.written = tok
	}
	a.mu.Unlock()
	if err != nil {
		a.warn(fmt.Errorf("write sinks: %w", err))
		return false
	}
	fmt.Fprintf(a.stderr, "broker: agent: %d sinks hold the token of lease %s, valid until %s\n",
		len(a.plan.sinks), tok.Lease.ID, tok.Expiry().UTC().Format(time.RFC3339))
	return true
}

// warn reports a failure once, until it changes.
func (a *agent) warn(err error) {
	a.mu.Lock()
	msg := err.Error()
	repeat := msg == a.lastWarn
	a.lastWarn = msg
	a.mu.Unlock()
	if !repeat {
		report(a.stderr, "agent: warning: ", err)
	}
}

// reload tells the command the token changed: a signal, or a restart.
func (a *agent) reload(ch *child) (*child, error) {
	if a.plan.reloadSignal != 0 {
		ch.signal(a.plan.reloadSignal)
		return ch, nil
	}
	if err := ch.stop(syscall.SIGTERM, a.plan.stopTimeout, a.clock); err != nil {
		report(a.stderr, "", fmt.Errorf("agent: %w", err))
	}
	return startChild(a.plan.exec, a.env, a.stderr)
}

// ready reports whether the sinks hold a token that works now.
func (a *agent) ready() (bool, string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	switch {
	case a.writeErr != nil:
		return false, "the sinks could not be written"
	case a.written == nil:
		return false, "no token yet"
	case !a.clock.Now().Before(a.written.Expiry()):
		return false, "the token in the sinks has expired"
	}
	return true, "ready"
}

// permanent reports whether err is one retrying cannot cure.
func permanent(err error) bool {
	var se *client.StatusError
	return errors.As(err, &se) && !se.Temporary()
}

var _ io.Writer = (*syncWriter)(nil)
