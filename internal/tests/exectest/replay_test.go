package exectest

import (
	"context"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/broker"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// TestExecRetriesALostIssueResponse loses the response to exec's
// IssueToken after the broker has minted the token. exec must retry with
// the same idempotency key and be handed that lease and that secret
// again, so that exactly one token exists upstream, and it must still
// revoke it at the end.
func TestExecRetriesALostIssueResponse(t *testing.T) {
	t.Parallel()
	b := startBroker(t)
	p := startProxy(t, b.grpcAddr)
	p.dropFirstResponse()
	c := newChild(t)
	r := startExec(t, b, p.addr(), c, purposeCI, `read _ < "$d/gate"; exit 0`)
	g := r.waitReady(t, c)
	b.checkLive(t, g.scheme, g.token)

	if got := p.droppedResponses(); got != 1 {
		t.Fatalf("proxy lost %d responses, want 1", got)
	}
	leases, err := b.store.ListLeases(context.Background(), store.ListLeasesParams{PageSize: 10})
	if err != nil {
		t.Fatalf("list leases: %v", err)
	}
	if len(leases.Leases) != 1 || leases.Leases[0].ID != g.leaseID {
		t.Fatalf("store holds %d leases, want exactly the one exec's command was given (%s)", len(leases.Leases), g.leaseID)
	}
	if n := b.auditCount(t, g.leaseID, broker.ActionReplay); n != 1 {
		t.Errorf("audit trail has %d replays of the lease, want 1: the retry must be answered from the first issuance", n)
	}
	wantCreates := map[int]int{http.StatusOK: 1}
	if diff := cmp.Diff(wantCreates, b.emu.Counters()[emulator.RouteV2CreateKey]); diff != "" {
		t.Errorf("create-key requests by status (-want +got):\n%s", diff)
	}
	alive := b.emu.Tokens().Alive()
	if len(alive) != 1 || alive[0].SHA256 != lease.HashToken(g.token) {
		t.Errorf("emulator has %d live keys, want exactly the command's token", len(alive))
	}

	c.release(t)
	if code := r.wait(t); code != 0 {
		t.Errorf("exec returned %d, want 0; stderr:\n%s", code, r.stderr.String())
	}
	b.checkEnded(t, g.scheme, g.token, g.leaseID, "exec: command exited with status 0", r.stdout.String(), r.stderr.String())
}
