package clientcmd

import (
	"context"
	"fmt"
	"io"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

const (
	// minRenewInterval keeps a lease that the broker keeps short from
	// turning renewal into a busy loop.
	minRenewInterval = time.Second
	// maxWarnLead is how long before a lease's hard end exec warns that
	// the command is still running; shorter for leases under ten minutes.
	maxWarnLead = time.Minute
)

// keeper renews exec's lease while the command runs, at two thirds of the
// remaining time so that a failed renewal still leaves a third to retry
// in, and warns once before the lease's max_expire_time, past which no
// renewal can carry it.
type keeper struct {
	s     *session
	clock Clock
	out   io.Writer
	lease *ztbrokerv1.Lease
	ttl   *durationpb.Duration

	warned bool
	// stopped is set once a renewal failed for good.
	stopped bool
}

func (k *keeper) run(ctx context.Context) {
	for {
		now := k.clock.Now()
		at, renew := k.next(now)
		if at.IsZero() {
			<-ctx.Done()
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-k.clock.After(at.Sub(now)):
		}
		if renew {
			k.renew(ctx)
		} else {
			k.warn()
		}
	}
}

// next is when the keeper acts again, and whether that is a renewal or
// the warning; zero when there is nothing left to do.
func (k *keeper) next(now time.Time) (at time.Time, renew bool) {
	expire := k.lease.GetExpireTime().AsTime()
	end := hardEnd(k.lease)
	if !k.stopped && (end.IsZero() || expire.Before(end)) {
		at, renew = now.Add(max(expire.Sub(now)*2/3, minRenewInterval)), true
	}
	if !k.warned && !end.IsZero() {
		if w := warnTime(k.lease.GetIssueTime().AsTime(), end); !renew || w.Before(at) {
			at, renew = w, false
		}
	}
	return at, renew
}

func (k *keeper) renew(ctx context.Context) {
	id := k.lease.GetId()
	left := k.lease.GetExpireTime().AsTime().Sub(k.clock.Now())
	if left <= 0 {
		k.stopped = true
		fmt.Fprintf(k.out, "broker: warning: lease %s expired before it could be renewed; the command's token no longer works\n", id)
		return
	}
	// Retrying past the expiry would be pointless.
	rctx, cancel := context.WithTimeout(ctx, left)
	defer cancel()
	resp, err := k.s.broker.RenewLease(rctx, &ztbrokerv1.RenewLeaseRequest{Id: id, Ttl: k.ttl})
	switch {
	case ctx.Err() != nil:
		// The command ended while we renewed; nothing to report.
	case err != nil:
		k.stopped = true
		report(k.out, "warning: ", fmt.Errorf("renew lease %s: %w; the command's token stops working at %s",
			id, err, stamp(k.lease.GetExpireTime())))
	default:
		k.lease = resp.GetLease()
	}
}

func (k *keeper) warn() {
	k.warned = true
	fmt.Fprintf(k.out, "broker: warning: lease %s reaches its maximum lifetime at %s and cannot be renewed further; "+
		"the command is still running and its token stops working then\n", k.lease.GetId(), stamp(k.lease.GetMaxExpireTime()))
}

// hardEnd is the lease's max_expire_time, or zero when the broker set none.
func hardEnd(l *ztbrokerv1.Lease) time.Time {
	if l.GetMaxExpireTime() == nil {
		return time.Time{}
	}
	return l.GetMaxExpireTime().AsTime()
}

// warnTime is a minute before end, or a tenth of the lease's lifetime when
// that is shorter.
func warnTime(issued, end time.Time) time.Time {
	return end.Add(-min(maxWarnLead, end.Sub(issued)/10))
}
