package chaos

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// deleteRoutes are the upstream routes that revoke a token, one per API.
var deleteRoutes = []string{emulator.RouteV2DeleteKey, emulator.RouteV1DeleteToken}

const (
	outageLeases = 24
	// outageWithin bounds each phase of the outage test: every lease
	// expiring and being retried, then everything draining.
	outageWithin = 30 * time.Second
)

func TestUpstreamOutageQueuesRevocationsUntilItEnds(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := newEnv(t, pgtest.NewDatabase(t))
	b := e.startBroker()
	for _, r := range deleteRoutes {
		if err := e.admin.SetFault(ctx, r, emulator.Fault{Status: http.StatusServiceUnavailable}); err != nil {
			t.Fatal(err)
		}
	}

	ids := map[string]bool{}
	start := time.Now()
	for i := range outageLeases {
		purpose := []string{purposeNC, purposeLegacy}[i%2]
		id, err := b.issue(ctx, i%4 < 2, purpose, time.Second)
		if err != nil {
			t.Fatalf("issue %d: %v", i, err)
		}
		ids[id] = true
	}

	// Queued, not lost: every lease expires into revoking and is retried
	// at least twice while its token stays alive upstream.
	ok, why := poll(ctx, outageWithin, func(ctx context.Context) (bool, string) {
		rows, err := e.leases(ctx)
		if err != nil {
			return false, err.Error()
		}
		for id := range ids {
			r, found := rows[id]
			switch {
			case !found:
				return false, "lease " + id + " is missing"
			case r.State != string(lease.StateRevoking) || r.Attempts < 2:
				return false, "not yet retrying: " + r.String()
			}
		}
		return true, ""
	})
	if !ok {
		t.Fatalf("leases did not queue for revocation during the outage: %s", why)
	}
	g, err := e.admin.Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(alive(g)); got != outageLeases {
		t.Fatalf("during the outage %d tokens are alive upstream, want all %d (a delete got through a 503?)", got, outageLeases)
	}

	for _, r := range deleteRoutes {
		if err := e.admin.ClearFault(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	cleared := time.Now()
	ok, why = poll(ctx, outageWithin, func(ctx context.Context) (bool, string) {
		rows, err := e.leases(ctx)
		if err != nil {
			return false, err.Error()
		}
		for id := range ids {
			if r := rows[id]; r.State != string(lease.StateRevoked) {
				return false, "still " + r.String()
			}
		}
		return true, ""
	})
	drain := time.Since(cleared)
	if !ok {
		t.Fatalf("revocations did not drain within %s of the outage ending: %s", outageWithin, why)
	}
	t.Logf("OUTAGE leases=%d drain=%s queued_after=%s", outageLeases, drain.Round(time.Millisecond), cleared.Sub(start).Round(time.Millisecond))

	a, settled := e.settle(ctx, outageWithin, 0)
	if !settled {
		t.Errorf("after the drain: %s", a)
	}
	counters, err := e.admin.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := okDeletes(counters); got != outageLeases {
		t.Errorf("successful upstream deletes = %d, want %d (counters %v)", got, outageLeases, deleteCounters(counters))
	}
	t.Logf("delete counters %s", deleteCounters(counters))
	if got := statusDeletes(counters, http.StatusServiceUnavailable); got < 2*outageLeases {
		t.Errorf("503 answers to deletes = %d, want at least %d: the retries never met the outage", got, 2*outageLeases)
	}
}

// okDeletes sums the 2xx answers of both delete routes.
func okDeletes(c map[string]map[int]int) int {
	n := 0
	for _, r := range deleteRoutes {
		for status, count := range c[r] {
			if status/100 == 2 {
				n += count
			}
		}
	}
	return n
}

func statusDeletes(c map[string]map[int]int, status int) int {
	n := 0
	for _, r := range deleteRoutes {
		n += c[r][status]
	}
	return n
}

func deleteCounters(c map[string]map[int]int) string {
	return fmt.Sprint(map[string]map[int]int{deleteRoutes[0]: c[deleteRoutes[0]], deleteRoutes[1]: c[deleteRoutes[1]]})
}
