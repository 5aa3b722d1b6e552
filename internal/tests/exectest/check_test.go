package exectest

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

// pollBound caps every wait for state to change; reaching it fails the
// test instead of hanging it.
const pollBound = 30 * time.Second

// eventually polls cond until it holds, failing the test after pollBound.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(pollBound)
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s waiting for %s", pollBound, what)
		}
		<-tick.C
	}
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*pollBound)
	t.Cleanup(cancel)
	return ctx
}

// lease reads a lease straight from the store.
func (b *liveBroker) lease(t *testing.T, id string) *lease.Lease {
	t.Helper()
	l, err := b.store.GetLease(context.Background(), store.GetLeaseParams{ID: id})
	if err != nil {
		t.Fatalf("read lease %q: %v", id, err)
	}
	return l
}

// auditCount counts the lease's audit events with the given action.
func (b *liveBroker) auditCount(t *testing.T, leaseID, action string) int {
	t.Helper()
	res, err := b.store.ListAudit(context.Background(), store.ListAuditParams{LeaseID: leaseID, Action: action, PageSize: 100})
	if err != nil {
		t.Fatalf("list audit: %v", err)
	}
	return len(res.Events)
}

// checkLive asserts that the token works at the emulator right now.
func (b *liveBroker) checkLive(t *testing.T, scheme, token string) {
	t.Helper()
	if got := b.emu.TryToken(testContext(t), scheme, token); got != http.StatusOK {
		t.Fatalf("token while its command runs: emulator answered %d, want %d", got, http.StatusOK)
	}
}

// checkEnded asserts what must hold once a token's user is done: the
// emulator rejects the token and holds no live key with its hash, the
// store has the lease revoked for wantReason, and the secret appears in
// none of the given outputs nor the broker's logs.
func (b *liveBroker) checkEnded(t *testing.T, scheme, token, leaseID, wantReason string, outputs ...string) {
	t.Helper()
	if got := b.emu.TryToken(testContext(t), scheme, token); got != http.StatusUnauthorized {
		t.Errorf("token after its lease ended: emulator answered %d, want %d", got, http.StatusUnauthorized)
	}
	hash := lease.HashToken(token)
	for _, live := range b.emu.Tokens().Alive() {
		if live.SHA256 == hash {
			t.Errorf("emulator still holds the token as live key %s", live.ID)
		}
	}
	l := b.lease(t, leaseID)
	if l.State != lease.StateRevoked || l.RevokeReason != wantReason {
		t.Errorf("lease %s is %s (reason %q), want %s (reason %q)", leaseID, l.State, l.RevokeReason, lease.StateRevoked, wantReason)
	}
	if l.TokenSHA256 != hash {
		t.Errorf("lease %s records token hash %s, but the command was given a token hashing to %s", leaseID, l.TokenSHA256, hash)
	}
	for i, out := range append(outputs, b.logs.String()) {
		if strings.Contains(out, token) {
			t.Errorf("output %d shows the secret", i)
		}
	}
}

// syncBuffer collects output written from several goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
