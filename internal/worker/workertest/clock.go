package workertest

import (
	"sync"
	"time"
)

// Clock is a manual clock that can also be set running. It starts stopped
// at the current time truncated to the microsecond, PostgreSQL's
// precision, so times read back from the store compare equal to the ones
// written.
type Clock struct {
	mu sync.Mutex
	t  time.Time
	// since is when a running clock last read t; zero while stopped.
	since time.Time
}

// NewClock returns a clock stopped at the current time.
func NewClock() *Clock { return &Clock{t: time.Now().UTC().Truncate(time.Microsecond)} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nowLocked()
}

func (c *Clock) nowLocked() time.Time {
	if c.since.IsZero() {
		return c.t
	}
	return c.t.Add(time.Since(c.since))
}

// Advance moves the clock forward by d and returns the new time.
func (c *Clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.setLocked(c.nowLocked().Add(d))
}

// Set moves the clock to t if t is later, and returns the clock's time.
func (c *Clock) Set(t time.Time) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := c.nowLocked(); !t.After(now) {
		return now
	}
	return c.setLocked(t)
}

func (c *Clock) setLocked(t time.Time) time.Time {
	c.t = t
	if !c.since.IsZero() {
		c.since = time.Now()
	}
	return t
}

// Run sets the clock going at the pace of real time from its current
// reading, for benchmarks that measure real delays on shifted times.
func (c *Clock) Run() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.since.IsZero() {
		c.since = time.Now()
	}
}
