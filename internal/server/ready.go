package server

import (
	"context"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// readiness answers readiness probes from one database check per period,
// shared by every probe that arrives meanwhile: /readyz is open to
// anyone, and a flood of probes must not take the pool's connections
// from callers.
type readiness struct {
	ping    func(context.Context) error
	ttl     time.Duration
	timeout time.Duration
	now     func() time.Time

	flight singleflight.Group
	mu     sync.Mutex
	at     time.Time
	err    error
	known  bool
}

func newReadiness(ping func(context.Context) error, ttl time.Duration, now func() time.Time) *readiness {
	return &readiness{ping: ping, ttl: ttl, timeout: 5 * time.Second, now: now}
}

// check returns the last result while it is younger than ttl, else pings
// once for all concurrent callers. The ping runs detached from any one
// probe, which may give up without spoiling the answer for the others.
func (r *readiness) check(ctx context.Context) error {
	if ok, err := r.cached(); ok {
		return err
	}
	ch := r.flight.DoChan("", func() (any, error) {
		// A probe that missed the cache may start its flight just after
		// another flight filled it.
		if ok, err := r.cached(); ok {
			return nil, err
		}
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.timeout)
		defer cancel()
		err := r.ping(pctx)
		r.mu.Lock()
		r.at, r.err, r.known = r.now(), err, true
		r.mu.Unlock()
		return nil, err
	})
	select {
	case res := <-ch:
		return res.Err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// cached returns the last result if it is still fresh.
func (r *readiness) cached() (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.known && r.now().Sub(r.at) < r.ttl {
		return true, r.err
	}
	return false, nil
}
