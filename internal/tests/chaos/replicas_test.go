package chaos

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
)

const (
	replicaLeases  = 40
	replicaIssuers = 4
	replicasWithin = 30 * time.Second
)

func TestTwoReplicasRevokeEachTokenOnce(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	e := newEnv(t, pgtest.NewDatabase(t))
	replicas := []*broker{e.startBroker(), e.startBroker()}

	var mu sync.Mutex
	ids := map[string]bool{}
	var wg sync.WaitGroup
	errs := make(chan error, replicaLeases)
	for w := range replicaIssuers {
		wg.Go(func() {
			for i := w; i < replicaLeases; i += replicaIssuers {
				b := replicas[i%2]
				purpose := []string{purposeNC, purposeLegacy}[(i/2)%2]
				id, err := b.issue(ctx, i%3 == 0, purpose, time.Duration(1+i%2)*time.Second)
				if err != nil {
					errs <- err
					continue
				}
				mu.Lock()
				ids[id] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("issue: %v", err)
	}
	if t.Failed() {
		t.FailNow()
	}

	ok, why := poll(ctx, replicasWithin, func(ctx context.Context) (bool, string) {
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
	if !ok {
		t.Fatalf("leases issued through two replicas did not all end revoked within %s: %s", replicasWithin, why)
	}
	if a, settled := e.settle(ctx, replicasWithin, 0); !settled {
		t.Errorf("with two replicas: %s", a)
	}
	counters, err := e.admin.Counters(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := okDeletes(counters); got != len(ids) {
		t.Errorf("successful upstream deletes = %d, want one per lease (%d); counters %s", got, len(ids), deleteCounters(counters))
	}
	// A delete answered 404 means the token was already gone: two
	// replicas revoked the same lease, or a reconciler took a token whose
	// lease another replica was revoking for an orphan.
	reconciled := 0
	for _, b := range replicas {
		reconciled += strings.Count(b.proc.Stderr(), `"msg":"deleted an orphaned upstream token"`)
	}
	if got := statusDeletes(counters, http.StatusNotFound); got != 0 || reconciled != 0 {
		t.Errorf("%d deletes of tokens already gone and %d reconciler orphan deletions, want none; counters %s",
			got, reconciled, deleteCounters(counters))
	}
	t.Logf("REPLICAS leases=%d ok_deletes=%d gone_deletes=%d reconciler_redeletes=%d",
		len(ids), okDeletes(counters), statusDeletes(counters, http.StatusNotFound), reconciled)
}
