package pgstore

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// group is group commit done by the store: calls of one kind that arrive
// while a statement of that kind is in flight wait, and the next
// statement carries all of them. Each statement is one commit, so under
// concurrency the commits, round trips and executor start-ups of a lease
// cycle are shared; PostgreSQL's CPU per cycle fell to about half at
// four leases a statement in a pgbench model of the cycle.
//
// There is no timer and no background goroutine: a call that finds no
// statement in flight runs its own at once, so a lone caller pays
// nothing, and the caller whose statement finishes hands the turn to the
// oldest waiter, which runs the next one with everything queued by then.
// Each caller thus runs at most one statement, the one that carries its
// own call.
type group[In, Out any] struct {
	// max bounds a statement's calls; the rest wait for the next.
	max int
	// timeout bounds a statement of several calls, which runs detached
	// from the leading caller's context: a caller hanging up must not
	// fail the others' writes. When every call has a deadline, the
	// latest of them bounds the statement instead, if it is sooner.
	timeout time.Duration
	// one executes a lone call's single-row statement, as the store
	// would without grouping.
	one func(ctx context.Context, in In) (Out, error)
	// run executes one statement for calls, setting each call's out and
	// err. It is only called with two calls or more.
	run func(ctx context.Context, calls []*call[In, Out])
	// observe and queued, when set, are told each statement's size and
	// the queue's depth after each arrival (tests).
	observe func(n int)
	queued  func(depth int)

	mu    sync.Mutex
	queue []*call[In, Out]
	busy  bool
}

type call[In, Out any] struct {
	in  In
	out Out
	err error
	// deadline is the caller's, zero when it has none.
	deadline time.Time
	// turn receives true when the call is to run the next statement, and
	// false when another caller's statement has carried it.
	turn chan bool
}

// do runs in with whatever else is queued and returns its own result.
// Once another caller's statement carries in, do waits for it whatever
// ctx does: a write's outcome must be known to its caller.
func (g *group[In, Out]) do(ctx context.Context, in In) (Out, error) {
	c := &call[In, Out]{in: in, turn: make(chan bool, 1)}
	c.deadline, _ = ctx.Deadline()
	g.mu.Lock()
	g.queue = append(g.queue, c)
	lead := !g.busy
	g.busy = true
	if g.queued != nil {
		g.queued(len(g.queue))
	}
	g.mu.Unlock()
	if lead || <-c.turn {
		g.lead(ctx)
	}
	return c.out, c.err
}

// lead runs one statement for the head of the queue, which is always the
// leader's own call, then passes the turn on.
func (g *group[In, Out]) lead(ctx context.Context) {
	g.mu.Lock()
	n := min(len(g.queue), g.max)
	calls := make([]*call[In, Out], n)
	copy(calls, g.queue)
	left := copy(g.queue, g.queue[n:])
	// The tail would keep finished calls (and their arguments) alive
	// until a longer queue overwrote it.
	clear(g.queue[left:])
	g.queue = g.queue[:left]
	g.mu.Unlock()

	if g.observe != nil {
		g.observe(n)
	}
	panicked := g.runSafely(ctx, calls)

	g.mu.Lock()
	var next *call[In, Out]
	if len(g.queue) > 0 {
		next = g.queue[0]
	} else {
		g.busy = false
	}
	g.mu.Unlock()
	for _, c := range calls[1:] {
		c.turn <- false
	}
	if next != nil {
		next.turn <- true
	}
	if panicked != nil {
		// The bug surfaces where the leader's caller recovers panics;
		// the others have their error and the queue moves on.
		panic(panicked)
	}
}

// runSafely runs the statement. A lone call keeps its own context, as it
// would without grouping; a batch gets one of its own. A panic fails
// every call of the statement instead of leaving the group busy, and is
// returned for the leader to raise again.
func (g *group[In, Out]) runSafely(ctx context.Context, calls []*call[In, Out]) (panicked any) {
	defer func() {
		if v := recover(); v != nil {
			panicked = v
			for _, c := range calls {
				var zero Out
				c.out, c.err = zero, fmt.Errorf("pgstore: grouped statement panicked: %v", v)
			}
		}
	}()
	if len(calls) == 1 {
		c := calls[0]
		c.out, c.err = g.one(ctx, c.in)
		return nil
	}
	sctx, cancel := context.WithDeadline(context.WithoutCancel(ctx), batchDeadline(calls, time.Now().Add(g.timeout)))
	defer cancel()
	g.run(sctx, calls)
	return nil
}

// batchDeadline is the latest of the calls' deadlines, or limit when a
// call has none or the latest is later: no caller's write is cut short
// by another caller's deadline, and none waits past the longest it was
// willing to.
func batchDeadline[In, Out any](calls []*call[In, Out], limit time.Time) time.Time {
	var latest time.Time
	for _, c := range calls {
		if c.deadline.IsZero() {
			return limit
		}
		if c.deadline.After(latest) {
			latest = c.deadline
		}
	}
	if latest.After(limit) {
		return limit
	}
	return latest
}
