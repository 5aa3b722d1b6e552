package refusal_test

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/goleak"

	"github.com/ztbroker/ztbroker/internal/panics"
	"github.com/ztbroker/ztbroker/internal/refusal"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/store/memstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func setup(t *testing.T, cfg refusal.Config) (*refusal.Limiter, *memstore.Store, *clock) {
	t.Helper()
	st := memstore.New()
	clk := &clock{t: t0}
	log := slog.New(slog.DiscardHandler)
	cfg.Store, cfg.Logger, cfg.Panics, cfg.Registerer, cfg.Now = st, log, panics.New(log), prometheus.NewRegistry(), clk.now
	l, err := refusal.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return l, st, clk
}

func deny(owner, purpose string) *store.AuditEvent {
	return &store.AuditEvent{Action: "deny", ActorKind: "oidc", ActorSubject: owner, Purpose: purpose,
		ActorClaims: map[string]string{"sub": owner}}
}

// TestTurnedAwayPerOwnerAndAddress: refusals spend the owner's and the
// address's buckets; once either is empty the next request is turned away
// with the wait until a token returns, and others are unaffected.
func TestTurnedAwayPerOwnerAndAddress(t *testing.T) {
	t.Parallel()
	l, _, clk := setup(t, refusal.Config{
		PerOwner:   refusal.Rate{PerSecond: 1, Burst: 2},
		PerAddress: refusal.Rate{PerSecond: 1, Burst: 3},
	})
	for range 2 {
		if _, ok := l.Admit("mallory", "10.0.0.1", nil); !ok {
			t.Fatal("turned away within the burst")
		}
		l.Refused("mallory", "10.0.0.1", deny("mallory", "p"))
	}
	if wait, ok := l.Admit("mallory", "10.0.0.9", nil); ok || wait != time.Second {
		t.Errorf("third request of a twice-refused owner: wait %v, admitted %t; want turned away for 1s", wait, ok)
	}
	// Another owner at the same address still has the address's third token.
	if _, ok := l.Admit("eve", "10.0.0.1", nil); !ok {
		t.Error("another owner was turned away before its address was spent")
	}
	l.Refused("eve", "10.0.0.1", deny("eve", "p"))
	if _, ok := l.Admit("trent", "10.0.0.1", nil); ok {
		t.Error("an address refused three times still lets a new owner in")
	}
	if _, ok := l.Admit("trent", "10.0.0.2", nil); !ok {
		t.Error("a new owner at a new address was turned away")
	}
	clk.add(time.Second)
	if _, ok := l.Admit("mallory", "10.0.0.9", nil); !ok {
		t.Error("a token did not return after a second")
	}
}

// TestEventsSummarized: past its event budget an owner's refusals are not
// recorded one by one; a flush writes one summary per owner with the
// counts, including requests turned away, and nothing when all is quiet.
func TestEventsSummarized(t *testing.T) {
	t.Parallel()
	l, st, clk := setup(t, refusal.Config{
		PerOwner: refusal.Rate{PerSecond: 1, Burst: 5},
		Events:   refusal.Rate{PerSecond: 0.1, Burst: 2},
	})
	recorded := 0
	for range 5 {
		if l.Refused("mallory", "a", deny("mallory", "deploy")) {
			recorded++
		}
	}
	quota := &store.AuditEvent{Action: "quota_reject", ActorKind: "oidc", ActorSubject: "mallory", Purpose: "deploy"}
	if l.Refused("mallory", "a", quota) {
		recorded++
	}
	if _, ok := l.Admit("mallory", "a", func() *store.AuditEvent { return deny("mallory", "") }); ok {
		t.Fatal("an owner refused six times was admitted")
	}
	if recorded != 2 {
		t.Errorf("%d events to record, want the burst of 2", recorded)
	}
	if l.Refused("alice", "b", deny("alice", "other")) != true {
		t.Error("another owner's first event was not recorded")
	}
	clk.add(30 * time.Second)
	n, err := l.Flush(context.Background())
	if err != nil || n != 1 {
		t.Fatalf("Flush = %d, %v; want one summary", n, err)
	}
	res, err := st.ListAudit(context.Background(), store.ListAuditParams{PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	got := res.Events[0]
	want := &store.AuditEvent{ID: got.ID, Time: t0.Add(30 * time.Second), Action: refusal.ActionSummary, Result: "summarized",
		ActorKind: "oidc", ActorSubject: "mallory", ActorClaims: map[string]string{"sub": "mallory"}, Purpose: "deploy",
		Reason: "3 deny events not recorded, 1 quota_reject events not recorded, 1 requests turned away between 2030-01-01T00:00:00Z and 2030-01-01T00:00:00Z"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("summary (-want +got):\n%s", d)
	}
	if n, err := l.Flush(context.Background()); n != 0 || err != nil {
		t.Errorf("a second flush wrote %d, %v; want nothing", n, err)
	}
}

// TestStopFlushes: counts pending when the flusher stops are written.
func TestStopFlushes(t *testing.T) {
	t.Parallel()
	flushed := make(chan int, 4)
	l, st, _ := setup(t, refusal.Config{
		Events:   refusal.Rate{PerSecond: 0.1, Burst: 1},
		Interval: time.Hour,
		OnFlush:  func(n int, _ error) { flushed <- n },
	})
	if err := l.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	l.Refused("mallory", "a", deny("mallory", "p"))
	l.Refused("mallory", "a", deny("mallory", "p"))
	l.Stop()
	if n := <-flushed; n != 1 {
		t.Errorf("final flush wrote %d summaries, want 1", n)
	}
	res, err := st.ListAudit(context.Background(), store.ListAuditParams{Action: refusal.ActionSummary, PageSize: 10})
	if err != nil || len(res.Events) != 1 {
		t.Errorf("summaries in the trail: %v, %v; want 1", res, err)
	}
}
