package revoker

import (
	"context"
	"sync"
	"time"
)

// alarm is the loop's sleep: it wakes at a target time, and Nudge can pull
// that target earlier. A nudge that arrives while the loop is busy is kept
// and applied to the next sleep, so a lease created mid-pass is not missed.
type alarm struct {
	mu       sync.Mutex
	sleeping bool
	wakeAt   time.Time
	// early is the earliest nudge seen while not sleeping.
	early time.Time
	ch    chan struct{}
}

func newAlarm() *alarm { return &alarm{ch: make(chan struct{}, 1)} }

// nudge pulls the wake-up to due when due is not later than it. Equal
// counts, so a test (or a replica) that moved a fake clock forward can
// nudge with the new "now" and be sure the loop re-reads the store.
func (a *alarm) nudge(due time.Time) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.sleeping {
		if a.early.IsZero() || due.Before(a.early) {
			a.early = due
		}
		return
	}
	if due.After(a.wakeAt) {
		return
	}
	a.wakeAt = due
	select {
	case a.ch <- struct{}{}:
	default:
	}
}

// sleep waits until until (as measured by now), an earlier nudge, or the
// end of ctx, whichever comes first. Waits are measured with real timers
// for the difference as now sees it, so a fake clock only changes how long
// a sleep lasts, never whether a nudge wakes it.
func (a *alarm) sleep(ctx context.Context, now func() time.Time, until time.Time) error {
	a.mu.Lock()
	if !a.early.IsZero() && a.early.Before(until) {
		until = a.early
	}
	a.early = time.Time{}
	a.sleeping, a.wakeAt = true, until
	select {
	case <-a.ch:
	default:
	}
	a.mu.Unlock()

	defer func() {
		a.mu.Lock()
		a.sleeping = false
		a.mu.Unlock()
	}()

	for {
		a.mu.Lock()
		target := a.wakeAt
		a.mu.Unlock()
		d := target.Sub(now())
		if d <= 0 {
			return nil
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
			return nil
		case <-a.ch:
			t.Stop()
		}
	}
}
