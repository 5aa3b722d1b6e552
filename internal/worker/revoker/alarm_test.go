package revoker

import (
	"context"
	"sync"
	"testing"
	"time"
)

// sleepAsync runs a.sleep in the background and reports its return. The
// returned asleep channel closes once sleep has armed itself and first
// reads the clock, so a nudge sent after it tests the sleeping path.
func sleepAsync(ctx context.Context, a *alarm, at time.Time, until time.Time) (done <-chan error, asleep <-chan struct{}) {
	d, s := make(chan error, 1), make(chan struct{})
	var once sync.Once
	now := func() time.Time {
		once.Do(func() { close(s) })
		return at
	}
	go func() { d <- a.sleep(ctx, now, until) }()
	return d, s
}

func TestAlarm(t *testing.T) {
	t.Parallel()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	frozen := func() time.Time { return base }

	t.Run("EarlierNudgeWakes", func(t *testing.T) {
		t.Parallel()
		a := newAlarm()
		done, asleep := sleepAsync(t.Context(), a, base, base.Add(time.Hour))
		<-asleep
		a.nudge(base)
		if err := <-done; err != nil {
			t.Fatalf("sleep() = %v", err)
		}
	})

	t.Run("LaterNudgeKeepsTarget", func(t *testing.T) {
		t.Parallel()
		a := newAlarm()
		ctx, cancel := context.WithCancel(t.Context())
		done, asleep := sleepAsync(ctx, a, base, base.Add(time.Hour))
		<-asleep
		a.nudge(base.Add(2 * time.Hour))
		a.mu.Lock()
		got := a.wakeAt
		a.mu.Unlock()
		if !got.Equal(base.Add(time.Hour)) {
			t.Errorf("wakeAt = %s after a later nudge, want %s", got, base.Add(time.Hour))
		}
		cancel()
		if err := <-done; err == nil {
			t.Fatal("sleep() = nil after cancel, want the context error")
		}
	})

	t.Run("NudgeWhileBusyShortensNextSleep", func(t *testing.T) {
		t.Parallel()
		a := newAlarm()
		a.nudge(base.Add(time.Minute))
		a.nudge(base) // the earliest wins
		a.nudge(base.Add(time.Hour))
		if err := a.sleep(t.Context(), frozen, base.Add(time.Hour)); err != nil {
			t.Fatalf("sleep() = %v", err)
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		if !a.early.IsZero() || a.sleeping {
			t.Errorf("alarm state after sleep: early=%s sleeping=%v", a.early, a.sleeping)
		}
	})

	t.Run("PastTargetReturnsAtOnce", func(t *testing.T) {
		t.Parallel()
		a := newAlarm()
		if err := a.sleep(t.Context(), frozen, base.Add(-time.Second)); err != nil {
			t.Fatalf("sleep() = %v", err)
		}
	})
}
