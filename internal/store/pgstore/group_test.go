package pgstore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// TestGroupSurvivesAPanic: a statement that panics fails its own calls,
// raises the panic in the leader only, and leaves the group usable.
func TestGroupSurvivesAPanic(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	g := &group[int, int]{max: 8, timeout: time.Minute}
	g.one = func(_ context.Context, in int) (int, error) {
		if in == 0 {
			<-release // the leader's statement, held until the others queue
			return 0, nil
		}
		return in * 10, nil
	}
	g.run = func(context.Context, []*call[int, int]) { panic("boom") }
	started := make(chan struct{})
	var once sync.Once
	queued := make(chan struct{})
	g.observe = func(int) { once.Do(func() { close(started) }) }
	g.queued = func(depth int) {
		if depth == 3 {
			close(queued)
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		if _, err := g.do(t.Context(), 0); err != nil {
			t.Error(err)
		}
	})
	<-started
	var panics int
	var mu sync.Mutex
	errsOf := make([]error, 3)
	for i := range 3 {
		wg.Go(func() {
			defer func() {
				if recover() != nil {
					mu.Lock()
					panics++
					mu.Unlock()
				}
			}()
			_, errsOf[i] = g.do(t.Context(), i+1)
		})
	}
	<-queued
	close(release)
	wg.Wait()
	if panics != 1 {
		t.Errorf("%d callers panicked, want the batch's leader alone", panics)
	}
	failed := 0
	for _, err := range errsOf {
		if err != nil {
			failed++
		}
	}
	if failed != 2 {
		t.Errorf("%d followers got an error (%v), want the two that were not leading", failed, errors.Join(errsOf...))
	}
	// The group is free again: a lone call runs at once.
	if got, err := g.do(context.Background(), 7); err != nil || got != 70 {
		t.Errorf("after the panic: %d, %v; want 70", got, err)
	}
}

func TestRetryAlone(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		err  error
		want bool
	}{
		{&pgconn.PgError{Code: "23514"}, true},                            // check_violation
		{&pgconn.PgError{Code: "22P05"}, true},                            // untranslatable_character
		{fmt.Errorf("wrapped: %w", &pgconn.PgError{Code: "40P01"}), true}, // deadlock_detected
		{&pgconn.PgError{Code: "40001"}, true},                            // serialization_failure
		{&pgconn.PgError{Code: "57014"}, false},                           // query_canceled
		{&pgconn.PgError{Code: "53300"}, false},                           // too_many_connections
		{context.DeadlineExceeded, false},
		{errors.New("connection reset"), false},
		{&pgconn.PgError{}, false},
	} {
		if got := retryAlone(tt.err); got != tt.want {
			t.Errorf("retryAlone(%v) = %v, want %v", tt.err, got, tt.want)
		}
	}
}

func TestBatchDeadline(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)
	limit := t0.Add(30 * time.Second)
	calls := func(deadlines ...time.Time) []*call[int, int] {
		var cs []*call[int, int]
		for _, d := range deadlines {
			cs = append(cs, &call[int, int]{deadline: d})
		}
		return cs
	}
	for _, tt := range []struct {
		name  string
		calls []*call[int, int]
		want  time.Time
	}{
		{"the latest caller's", calls(t0.Add(2*time.Second), t0.Add(5*time.Second), t0.Add(time.Second)), t0.Add(5 * time.Second)},
		{"a caller without a deadline", calls(t0.Add(2*time.Second), time.Time{}), limit},
		{"never past the limit", calls(t0.Add(time.Minute), t0.Add(time.Second)), limit},
	} {
		if got := batchDeadline(tt.calls, limit); !got.Equal(tt.want) {
			t.Errorf("%s: %v, want %v", tt.name, got, tt.want)
		}
	}
}
