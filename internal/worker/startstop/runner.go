package startstop

import (
	"context"
	"sync"
)

// Runner runs at most one loop at a time. The zero value is ready to use.
type Runner struct {
	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// Start runs loop in a new goroutine with a context that ends when ctx
// does or when Stop is called. It reports false, and starts nothing, when
// a loop is already running: a second Start must not fork a second loop
// that nobody would stop.
func (r *Runner) Start(ctx context.Context, loop func(ctx context.Context)) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done != nil {
		return false
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	r.cancel, r.done = cancel, done
	go func() {
		defer close(done)
		defer cancel()
		loop(ctx)
	}()
	return true
}

// Stop cancels the running loop and waits for it to return. Stopping a
// runner that never started, or stopping twice, is a no-op; concurrent
// callers all wait for the same loop.
func (r *Runner) Stop() {
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.mu.Unlock()
	if done == nil {
		return
	}
	cancel()
	<-done

	r.mu.Lock()
	// Only the Stop that saw this loop may clear it; a Start that slipped
	// in afterwards owns the fields now.
	if r.done == done {
		r.cancel, r.done = nil, nil
	}
	r.mu.Unlock()
}

// Running reports whether a loop has been started and not yet stopped.
func (r *Runner) Running() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.done != nil
}
