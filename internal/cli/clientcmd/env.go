package clientcmd

import (
	"context"
	"io"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Env is everything a command takes from its process. Commands never read
// os.Getenv, os.Stdout or signals themselves.
type Env struct {
	// Stdin is handed to exec's child; nil gives it no input.
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Getenv reads configuration such as BROKER_ADDR and the CI variables.
	Getenv func(string) string
	// Environ is the environment exec's child starts from, before the lease
	// variables are added; nil starts it from an empty one.
	Environ func() []string
	// Signals carries the signals exec forwards to its child. When it is
	// set, exec ignores the cancellation of its context and lets these
	// signals decide when the child stops; when it is nil, a cancelled
	// context sends the child SIGTERM. Token and admin commands treat the
	// first signal as cancellation.
	Signals <-chan os.Signal
	// HTTPClient fetches GitHub Actions ID tokens; nil means a client with
	// a 30 second timeout.
	HTTPClient *http.Client
	// Clock paces retries and lease renewals; nil means the real clock.
	Clock Clock
}

// Clock is the time source commands wait on.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// OSEnv returns an Env wired to this process, subscribed to SIGINT, SIGTERM
// and SIGHUP so that exec can forward them rather than die on them. Call
// stop when the command has returned.
func OSEnv() (env Env, stop func()) {
	sig := make(chan os.Signal, 4)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	return Env{
		Stdin:   os.Stdin,
		Stdout:  os.Stdout,
		Stderr:  os.Stderr,
		Getenv:  os.Getenv,
		Environ: os.Environ,
		Signals: sig,
	}, func() { signal.Stop(sig) }
}

// cancelOnSignal returns ctx cancelled by the first of e.Signals, for the
// commands that have no child to forward them to: with signals subscribed,
// SIGINT no longer stops the process by itself.
func (e Env) cancelOnSignal(ctx context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancel(ctx)
	if e.Signals == nil {
		return ctx, cancel
	}
	go func() {
		select {
		case <-e.Signals:
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

func (e Env) clock() Clock {
	if e.Clock == nil {
		return realClock{}
	}
	return e.Clock
}

func (e Env) httpClient() *http.Client {
	if e.HTTPClient == nil {
		return &http.Client{Timeout: 30 * time.Second}
	}
	return e.HTTPClient
}

func (e Env) getenv(k string) string {
	if e.Getenv == nil {
		return ""
	}
	return e.Getenv(k)
}
