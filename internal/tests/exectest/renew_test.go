package exectest

import (
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/broker"
	"github.com/ztbroker/ztbroker/internal/lease"
)

// TestExecRenewsPastTheFirstExpiry keeps a command running across several
// lease lifetimes of purposeShort: exec must renew the lease so that the
// token keeps working past the expiry it was issued with, and still end it
// when the command ends.
func TestExecRenewsPastTheFirstExpiry(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	c := newChild(t)
	r := startExec(t, b, b.grpcAddr, c, purposeShort, `read _ < "$d/gate"; exit 0`)
	g := r.waitReady(t, c)

	issued := b.lease(t, g.leaseID)
	if got := issued.ExpireTime.Sub(issued.IssueTime); got > shortTTL {
		t.Fatalf("lease issued for %s, want at most the purpose's default of %s", got, shortTTL)
	}
	firstExpiry := issued.ExpireTime
	eventually(t, "two renewals and the first expiry to pass", func() bool {
		if r.finished() {
			t.Fatalf("exec returned %d while its command should be running; stderr:\n%s", r.code, r.stderr.String())
		}
		return b.auditCount(t, g.leaseID, broker.ActionRenew) >= 2 && time.Now().After(firstExpiry)
	})

	// Past the expiry the token was issued with, it still works.
	b.checkLive(t, g.scheme, g.token)
	now := b.lease(t, g.leaseID)
	if now.State != lease.StateActive || !now.ExpireTime.After(firstExpiry) {
		t.Fatalf("lease is %s until %s; want active past its first expiry %s", now.State, now.ExpireTime, firstExpiry)
	}

	c.release(t)
	if code := r.wait(t); code != 0 {
		t.Errorf("exec returned %d, want 0; stderr:\n%s", code, r.stderr.String())
	}
	if s := r.stderr.String(); s != "" {
		t.Errorf("exec warned while renewing:\n%s", s)
	}
	b.checkEnded(t, g.scheme, g.token, g.leaseID, "exec: command exited with status 0", r.stdout.String(), r.stderr.String())
}
