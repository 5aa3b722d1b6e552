package upstream

import (
	"container/list"
	"context"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/ztbroker/ztbroker/internal/errs"
)

// DefaultRateLimit is ZeroTier's documented limit for paid accounts, in
// requests per second.
const DefaultRateLimit = 100

// Clock is the time source the limiter schedules with. A manual clock in
// tests makes queue order observable without timing anything.
type Clock interface {
	Now() time.Time
	// AfterFunc calls f once d has passed and returns a function that
	// cancels the call, like time.AfterFunc(d, f).Stop.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// Limiter is a token bucket shared by every call to one upstream. Waiting
// calls queue by priority, so a waiting revocation goes ahead of every
// waiting mint; and a 429 pauses the whole queue until the upstream's reset.
type Limiter struct {
	clock Clock

	mu          sync.Mutex
	bucket      *rate.Limiter
	pausedUntil time.Time
	// queues[p-PriorityProxy] holds *Ticket waiting at priority p;
	// higher p is served first.
	queues    [priorities]list.List
	stopTimer func() bool
	timerAt   time.Time
}

// NewLimiter allows perSecond calls a second with the given burst. A
// perSecond of zero means DefaultRateLimit; a negative one means no limit
// (only 429 pauses apply). A burst below one is derived from the rate.
func NewLimiter(perSecond float64, burst int, clock Clock) *Limiter {
	if clock == nil {
		clock = realClock{}
	}
	lim := rate.Limit(perSecond)
	switch {
	case perSecond == 0:
		lim = DefaultRateLimit
	case perSecond < 0:
		lim = rate.Inf
	}
	if burst < 1 {
		burst = max(1, int(float64(lim)/10))
		if lim == rate.Inf {
			burst = 1
		}
	}
	return &Limiter{clock: clock, bucket: rate.NewLimiter(lim, burst)}
}

// Ticket is a place in the limiter's queue.
type Ticket struct {
	l       *Limiter
	prio    Priority
	elem    *list.Element
	ready   chan struct{}
	granted bool
}

// Ready is closed when the call may go ahead.
func (t *Ticket) Ready() <-chan struct{} { return t.ready }

// Cancel gives up the ticket's place if it has not been granted yet.
func (t *Ticket) Cancel() {
	l := t.l
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.granted || t.elem == nil {
		return
	}
	l.queue(t.prio).Remove(t.elem)
	t.elem = nil
	l.dispatchLocked()
}

// Reserve joins the queue at priority p and returns at once; the ticket is
// already ready when nothing stands in the way.
func (l *Limiter) Reserve(p Priority) *Ticket {
	if p < PriorityProxy || p > PriorityRevoke {
		p = PriorityNormal
	}
	t := &Ticket{l: l, prio: p, ready: make(chan struct{})}
	l.mu.Lock()
	defer l.mu.Unlock()
	t.elem = l.queue(p).PushBack(t)
	l.dispatchLocked()
	return t
}

// Wait blocks until a call at ctx's priority may go ahead. It fails at once,
// rather than waiting in vain, when a 429 pause outlasts ctx's deadline.
func (l *Limiter) Wait(ctx context.Context) error {
	t := l.Reserve(PriorityFrom(ctx))
	select {
	case <-t.ready:
		return nil
	default:
	}
	now := l.clock.Now()
	// Compare durations, not instants: the deadline is on the real clock
	// and the pause on the limiter's.
	if dl, ok := ctx.Deadline(); ok {
		if wait := l.PausedUntil().Sub(now); wait > time.Until(dl) {
			t.Cancel()
			return l.pausedError(wait, nil)
		}
	}
	select {
	case <-t.ready:
		return nil
	case <-ctx.Done():
		t.Cancel()
		var wait time.Duration
		if until := l.PausedUntil(); until.After(now) {
			wait = until.Sub(now)
		}
		return l.pausedError(wait, ctx.Err())
	}
}

func (l *Limiter) pausedError(wait time.Duration, cause error) *Error {
	return &Error{
		Op: "rate limit", Retryable: true, RetryAfter: wait,
		Msg:  "gave up waiting for the upstream rate limit",
		kind: errs.Unavailable, cause: cause,
	}
}

// PauseUntil holds every queued and future call until t, as a 429 asks.
// An earlier t than the current pause changes nothing.
func (l *Limiter) PauseUntil(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.After(l.pausedUntil) {
		l.pausedUntil = t
	}
	l.dispatchLocked()
}

// PausedUntil returns the end of the current 429 pause, if any.
func (l *Limiter) PausedUntil() time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pausedUntil
}

// dispatchLocked grants tickets, highest priority first, while the bucket
// has tokens, then arms one timer for when the next grant becomes possible.
func (l *Limiter) dispatchLocked() {
	for {
		front := l.frontLocked()
		if front == nil {
			l.disarmLocked()
			return
		}
		now := l.clock.Now()
		if now.Before(l.pausedUntil) {
			l.armLocked(now, l.pausedUntil)
			return
		}
		if tokens := l.bucket.TokensAt(now); l.bucket.Limit() != rate.Inf && tokens < 1 {
			secs := (1 - tokens) / float64(l.bucket.Limit())
			wait := time.Duration(math.Ceil(secs * float64(time.Second)))
			l.armLocked(now, now.Add(max(wait, time.Nanosecond)))
			return
		}
		l.bucket.AllowN(now, 1)
		t := front.Value.(*Ticket)
		l.queue(t.prio).Remove(front)
		t.elem, t.granted = nil, true
		close(t.ready)
	}
}

func (l *Limiter) frontLocked() *list.Element {
	for p := PriorityRevoke; p >= PriorityProxy; p-- {
		if e := l.queue(p).Front(); e != nil {
			return e
		}
	}
	return nil
}

func (l *Limiter) queue(p Priority) *list.List { return &l.queues[p-PriorityProxy] }

func (l *Limiter) armLocked(now, at time.Time) {
	if l.stopTimer != nil && l.timerAt.Equal(at) {
		return
	}
	l.disarmLocked()
	l.timerAt = at
	l.stopTimer = l.clock.AfterFunc(at.Sub(now), func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.timerAt.Equal(at) {
			l.stopTimer = nil
		}
		l.dispatchLocked()
	})
}

func (l *Limiter) disarmLocked() {
	if l.stopTimer != nil {
		l.stopTimer()
		l.stopTimer = nil
	}
	l.timerAt = time.Time{}
}
