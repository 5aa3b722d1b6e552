package workertest

import (
	"sync"
	"testing"
	"time"
)

// waitLimit turns a worker that never signals into a failed test instead
// of a hung one. It is a deadlock guard, not a timing assertion: every
// wait in these tests is for an event that, when the code is right,
// happens at once.
const waitLimit = 30 * time.Second

// Recorder collects the values a worker's hook reports, for a test to
// wait on. Record never blocks, so it is safe as a hook.
type Recorder[T any] struct {
	mu     sync.Mutex
	items  []T
	next   int
	notify chan struct{}
}

// NewRecorder returns an empty recorder.
func NewRecorder[T any]() *Recorder[T] { return &Recorder[T]{notify: make(chan struct{}, 1)} }

// Record stores v and wakes a waiting test.
func (r *Recorder[T]) Record(v T) {
	r.mu.Lock()
	r.items = append(r.items, v)
	r.mu.Unlock()
	select {
	case r.notify <- struct{}{}:
	default:
	}
}

// Wait returns the first value not yet consumed that satisfies match,
// consuming it and every value before it.
func (r *Recorder[T]) Wait(t testing.TB, match func(T) bool) T {
	t.Helper()
	deadline := time.NewTimer(waitLimit)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		for r.next < len(r.items) {
			v := r.items[r.next]
			r.next++
			if match(v) {
				r.mu.Unlock()
				return v
			}
		}
		r.mu.Unlock()
		select {
		case <-r.notify:
		case <-deadline.C:
			t.Fatalf("no matching value recorded within %s", waitLimit)
		}
	}
}

// All returns every value recorded so far.
func (r *Recorder[T]) All() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]T(nil), r.items...)
}
