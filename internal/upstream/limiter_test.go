package upstream_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/upstream"
)

func ready(t *upstream.Ticket) bool {
	select {
	case <-t.Ready():
		return true
	default:
		return false
	}
}

// TestLimiterServesRevokesFirst queues proxied calls, a burst of mints,
// then revocations, and steps the clock one token at a time: every
// revocation must be granted before any mint that was already waiting,
// and every mint before any proxied call.
func TestLimiterServesRevokesFirst(t *testing.T) {
	t.Parallel()
	clock := newManualClock()
	lim := upstream.NewLimiter(1, 1, clock)

	if first := lim.Reserve(upstream.PriorityNormal); !ready(first) {
		t.Fatal("first call should use the burst at once")
	}
	type entry struct {
		name string
		t    *upstream.Ticket
	}
	var queued []entry
	for _, name := range []string{"proxy0", "proxy1"} {
		queued = append(queued, entry{name, lim.Reserve(upstream.PriorityProxy)})
	}
	for _, name := range []string{"mint0", "mint1", "mint2", "mint3"} {
		queued = append(queued, entry{name, lim.Reserve(upstream.PriorityNormal)})
	}
	for _, name := range []string{"revoke0", "revoke1"} {
		queued = append(queued, entry{name, lim.Reserve(upstream.PriorityRevoke)})
	}
	queued = append(queued, entry{"mint4", lim.Reserve(upstream.PriorityNormal)})
	queued = append(queued, entry{"proxy2", lim.Reserve(upstream.PriorityProxy)})

	var order []string
	granted := map[string]bool{}
	for step := 0; step < len(queued); step++ {
		for _, e := range queued {
			if ready(e.t) && !granted[e.name] {
				t.Fatalf("%s granted before its token was due", e.name)
			}
		}
		clock.Advance(time.Second)
		var now []string
		for _, e := range queued {
			if ready(e.t) && !granted[e.name] {
				granted[e.name] = true
				now = append(now, e.name)
			}
		}
		if len(now) != 1 {
			t.Fatalf("step %d granted %v, want exactly one", step, now)
		}
		order = append(order, now[0])
	}
	want := []string{"revoke0", "revoke1", "mint0", "mint1", "mint2", "mint3", "mint4", "proxy0", "proxy1", "proxy2"}
	if diff := cmp.Diff(want, order); diff != "" {
		t.Errorf("grant order (-want +got):\n%s", diff)
	}
}

func TestLimiterPauseHoldsEveryone(t *testing.T) {
	t.Parallel()
	clock := newManualClock()
	lim := upstream.NewLimiter(-1, 0, clock)
	lim.PauseUntil(clock.Now().Add(5 * time.Second))

	revoke := lim.Reserve(upstream.PriorityRevoke)
	mint := lim.Reserve(upstream.PriorityNormal)
	clock.Advance(4 * time.Second)
	if ready(revoke) || ready(mint) {
		t.Fatal("granted during the pause")
	}
	// An earlier pause must not shorten the current one.
	lim.PauseUntil(clock.Now())
	clock.Advance(time.Second)
	if !ready(revoke) || !ready(mint) {
		t.Fatal("not granted when the pause ended")
	}
}

func TestLimiterCancelFreesTheQueue(t *testing.T) {
	t.Parallel()
	clock := newManualClock()
	lim := upstream.NewLimiter(1, 1, clock)
	lim.Reserve(upstream.PriorityNormal)
	gone := lim.Reserve(upstream.PriorityRevoke)
	next := lim.Reserve(upstream.PriorityNormal)
	gone.Cancel()
	clock.Advance(time.Second)
	if ready(gone) {
		t.Error("a cancelled ticket was granted")
	}
	if !ready(next) {
		t.Error("the ticket behind a cancelled one was not granted")
	}
}

func TestLimiterWaitFailsFastWhenPauseOutlastsDeadline(t *testing.T) {
	t.Parallel()
	clock := newManualClock()
	lim := upstream.NewLimiter(-1, 0, clock)
	lim.PauseUntil(clock.Now().Add(time.Hour))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := lim.Wait(ctx)
	if !upstream.IsRetryable(err) {
		t.Fatalf("Wait = %v, want a retryable error", err)
	}
	if got := upstream.RetryAfterOf(err); got != time.Hour {
		t.Errorf("RetryAfter = %v, want 1h", got)
	}
	if !errors.Is(err, errs.Unavailable) {
		t.Errorf("Wait error %v does not wrap errs.Unavailable", err)
	}
}

func TestLimiterWaitHonoursCancellation(t *testing.T) {
	t.Parallel()
	clock := newManualClock()
	lim := upstream.NewLimiter(1, 1, clock)
	lim.Reserve(upstream.PriorityNormal)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := lim.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
	// The cancelled waiter must have left the queue.
	after := lim.Reserve(upstream.PriorityNormal)
	clock.Advance(time.Second)
	if !ready(after) {
		t.Error("a cancelled Wait still holds its place")
	}
}
