package client

import "time"

// Clock is the time source the client paces itself by: retry delays,
// renewal times and the validity of tokens. The real clock is the default;
// WithClock substitutes another, for tests that drive time by hand and for
// simulations.
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
