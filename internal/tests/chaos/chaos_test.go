package chaos

import (
	"context"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
)

const (
	chaosKills   = 20
	chaosWorkers = 4
	// chaosLag bounds how long after its expiry a lease's token may live
	// once the broker is back: the revoker's first pass, plus a claim
	// abandoned by a killed process timing out (claim_timeout).
	chaosLag = 5 * time.Second
	// settleWithin covers the longest TTL, pending_timeout, claim_timeout
	// and a few reconcile intervals, with room for a loaded machine.
	settleWithin = 45 * time.Second
	// progressWithin bounds the wait for load to make progress on a fresh
	// process; a broker that cannot issue at all fails the test here.
	progressWithin = 20 * time.Second
)

// chaosSeed is CHAOS_SEED when set, so a failing run can be replayed.
func chaosSeed(t *testing.T) uint64 {
	t.Helper()
	if s := os.Getenv("CHAOS_SEED"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("CHAOS_SEED: %v", err)
		}
		return n
	}
	return uint64(time.Now().UnixNano())
}

// load is what the client goroutines did; a lease the broker confirmed
// must exist afterwards whatever happened to the process.
type load struct {
	mu        sync.Mutex
	confirmed []string
	failures  int
}

func TestSIGKILLLeavesNoCredentialBehind(t *testing.T) {
	t.Parallel()
	seed := chaosSeed(t)
	t.Logf("seed %d (replay with CHAOS_SEED=%d)", seed, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	e := newEnv(t, pgtest.NewDatabase(t))

	var cur atomic.Pointer[broker]
	cur.Store(e.startBroker())
	progress := make(chan struct{}, 64)
	var ld load
	ctx, stopLoad := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	for w := range chaosWorkers {
		wrng := rand.New(rand.NewPCG(seed, uint64(w)+1))
		wg.Go(func() { runLoad(ctx, wrng, &cur, &ld, progress) })
	}

	for kill := range chaosKills {
		// Kill after a random number of confirmed operations on this
		// process and a random extra delay, so kills land between and
		// inside the other workers' requests.
		for range 1 + rng.IntN(6) {
			select {
			case <-progress:
			case <-time.After(progressWithin):
				stopLoad()
				wg.Wait()
				t.Fatalf("kill %d: no operation succeeded within %s; broker stderr:\n%s",
					kill, progressWithin, cur.Load().proc.Stderr())
			}
		}
		delay := time.NewTimer(time.Duration(rng.IntN(150)) * time.Millisecond)
		<-delay.C
		old := cur.Load()
		old.proc.Kill()
		cur.Store(e.startBroker())
		old.close()
		for len(progress) > 0 {
			<-progress
		}
	}
	stopLoad()
	wg.Wait()

	a, settled := e.settle(t.Context(), settleWithin, chaosLag)
	rows, err := e.leases(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	revokeFailed := 0
	for _, r := range rows {
		if r.State == string(lease.StateRevokeFailed) {
			revokeFailed++
		}
	}
	t.Logf("CHAOS kills=%d leases=%d orphans=%d revoke_failed=%d seed=%d confirmed=%d client_failures=%d",
		chaosKills, len(rows), len(a.Orphans), revokeFailed, seed, len(ld.confirmed), ld.failures)

	if !settled {
		t.Errorf("after the last restart the broker did not settle within %s: %s", settleWithin, a)
	}
	for _, id := range ld.confirmed {
		if _, ok := rows[id]; !ok {
			t.Errorf("lease %s was confirmed to a caller but is not in the database", id)
		}
	}
	if len(ld.confirmed) < chaosKills {
		t.Errorf("only %d leases confirmed across %d kills: the load did not exercise the broker", len(ld.confirmed), chaosKills)
	}
}

// runLoad issues short leases and revokes some of them at once, over both
// APIs, against whichever process is current, until ctx ends.
func runLoad(ctx context.Context, rng *rand.Rand, cur *atomic.Pointer[broker], ld *load, progress chan<- struct{}) {
	purposes := []string{purposeNC, purposeLegacy}
	for ctx.Err() == nil {
		b := cur.Load()
		ttl := time.Duration(1+rng.IntN(3)) * time.Second
		opCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		id, err := b.issue(opCtx, rng.IntN(2) == 0, purposes[rng.IntN(2)], ttl)
		if err == nil && rng.IntN(10) < 4 {
			// Failure here is fine: expiry revokes the lease instead.
			_ = b.revoke(opCtx, rng.IntN(2) == 0, id)
		}
		cancel()
		ld.mu.Lock()
		if err == nil {
			ld.confirmed = append(ld.confirmed, id)
		} else {
			ld.failures++
		}
		ld.mu.Unlock()
		if err == nil {
			select {
			case progress <- struct{}{}:
			default:
			}
			continue
		}
		// The process is dead or dying: wait for its successor rather
		// than spin, but not forever in case this error had another
		// cause.
		backoff := time.NewTimer(50 * time.Millisecond)
		select {
		case <-b.replaced:
		case <-backoff.C:
		case <-ctx.Done():
		}
		backoff.Stop()
	}
}
