package server_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/store/pgstore"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// writeLog records, per lease, the store writes that change its state.
type writeLog struct {
	store.Store
	mu    sync.Mutex
	calls map[string][]string
}

func (w *writeLog) note(id, method string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.calls[id] = append(w.calls[id], method)
}

func (w *writeLog) of(id string) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.calls[id])
}

func (w *writeLog) Activate(ctx context.Context, p store.ActivateParams) (*lease.Lease, error) {
	w.note(p.ID, "Activate")
	return w.Store.Activate(ctx, p)
}

func (w *writeLog) BeginRevoke(ctx context.Context, p store.BeginRevokeParams) (*lease.Lease, bool, error) {
	w.note(p.ID, "BeginRevoke")
	return w.Store.BeginRevoke(ctx, p)
}

func (w *writeLog) RevokeActive(ctx context.Context, p store.RevokeActiveParams) (*lease.Lease, error) {
	w.note(p.ID, "RevokeActive")
	return w.Store.RevokeActive(ctx, p)
}

func (w *writeLog) CompleteRevoke(ctx context.Context, p store.CompleteRevokeParams) (*lease.Lease, error) {
	w.note(p.ID, "CompleteRevoke")
	return w.Store.CompleteRevoke(ctx, p)
}

func (w *writeLog) RecordRevokeFailure(ctx context.Context, p store.RecordRevokeFailureParams) (*lease.Lease, error) {
	w.note(p.ID, "RecordRevokeFailure")
	return w.Store.RecordRevokeFailure(ctx, p)
}

// TestExplicitRevokePaths checks which writes an explicit revoke makes.
// When ZeroTier deletes the token at once the lease goes from active to
// revoked in one write that carries both audit events; when it fails,
// the revoke falls back to the durable path (revoking, then a recorded
// failure or a completion), with the same audit trail as before.
func TestExplicitRevokePaths(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		fault     *emulator.Fault
		state     ztbrokerv1.Lease_State
		writes    []string
		actions   []string
		tokenDies bool
	}{
		{
			name: "delete succeeds", state: ztbrokerv1.Lease_STATE_REVOKED,
			writes:  []string{"Activate", "RevokeActive"},
			actions: []string{"issue", "revoke", "revoke_complete"}, tokenDies: true,
		},
		{
			name: "first delete fails", fault: &emulator.Fault{Status: http.StatusServiceUnavailable, Times: 1},
			state:   ztbrokerv1.Lease_STATE_REVOKED,
			writes:  []string{"Activate", "BeginRevoke", "CompleteRevoke"},
			actions: []string{"issue", "revoke", "revoke_complete"}, tokenDies: true,
		},
		{
			name: "deletes keep failing", fault: &emulator.Fault{Status: http.StatusServiceUnavailable},
			state:   ztbrokerv1.Lease_STATE_REVOKING,
			writes:  []string{"Activate", "BeginRevoke", "RecordRevokeFailure"},
			actions: []string{"issue", "revoke"},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			log := &writeLog{calls: map[string][]string{}}
			h := setup(t, withStore(func(s store.Store) store.Store { log.Store = s; return log }))
			ctx := testContext(t)
			for _, a := range h.apis() {
				issued, err := a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC})
				if err != nil {
					t.Fatalf("%s: issue: %v", a.name(), err)
				}
				if tc.fault != nil {
					if err := h.emu.SetFault(emulator.RouteV2DeleteKey, *tc.fault); err != nil {
						t.Fatal(err)
					}
				}
				id := issued.GetLease().GetId()
				rv, err := a.revoke(ctx, h.keyA, &ztbrokerv1.RevokeLeaseRequest{Id: id, Reason: "done"})
				if err != nil {
					t.Fatalf("%s: revoke: %v", a.name(), err)
				}
				h.emu.ClearFault(emulator.RouteV2DeleteKey)
				if got := rv.GetLease().GetState(); got != tc.state || rv.GetAlreadyRevoked() {
					t.Errorf("%s: revoke answered %s (already %t), want %s", a.name(), got, rv.GetAlreadyRevoked(), tc.state)
				}
				if d := cmp.Diff(tc.writes, log.of(id)); d != "" {
					t.Errorf("%s: store writes (-want +got):\n%s", a.name(), d)
				}
				res, err := pgstore.New(h.db).ListAudit(ctx, store.ListAuditParams{LeaseID: id, PageSize: 10})
				if err != nil {
					t.Fatal(err)
				}
				var actions []string
				for _, e := range slices.Backward(res.Events) {
					actions = append(actions, e.Action)
				}
				if d := cmp.Diff(tc.actions, actions); d != "" {
					t.Errorf("%s: audit trail, oldest first (-want +got):\n%s", a.name(), d)
				}
				code := h.emu.TryToken(ctx, issued.GetAuthScheme(), issued.GetToken())
				if dead := code == http.StatusUnauthorized; dead != tc.tokenDies {
					t.Errorf("%s: the token answers %d after the revoke; want dead: %t", a.name(), code, tc.tokenDies)
				}
			}
		})
	}
}

// lostWrites fails every revoke write, as if the process had died right
// after the upstream delete of an explicit revoke.
type lostWrites struct{ store.Store }

func (lostWrites) RevokeActive(context.Context, store.RevokeActiveParams) (*lease.Lease, error) {
	return nil, fmt.Errorf("lost: %w", errs.Unavailable)
}

func (lostWrites) BeginRevoke(context.Context, store.BeginRevokeParams) (*lease.Lease, bool, error) {
	return nil, false, fmt.Errorf("lost: %w", errs.Unavailable)
}

// TestRevokeCrashAfterDelete is the fast path's one new crash point: the
// token is gone upstream but no write recorded it. The lease stays active
// with a dead token, and the revoker ends it at expiry like any other.
func TestRevokeCrashAfterDelete(t *testing.T) {
	t.Parallel()
	h := setup(t, withStore(func(s store.Store) store.Store { return lostWrites{s} }))
	ctx := testContext(t)
	// The TTL leaves the revoke time to run before the revoker could
	// claim the lease at expiry, even on a loaded machine; with 1s it
	// sometimes did not.
	issued, err := grpcAPI{h}.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC, Ttl: durationpb.New(4 * time.Second)})
	if err != nil {
		t.Fatalf("issue: %v", err)
	}
	id := issued.GetLease().GetId()
	_, err = grpcAPI{h}.revoke(ctx, h.keyA, &ztbrokerv1.RevokeLeaseRequest{Id: id})
	wantErr(t, err, codes.Unavailable, http.StatusServiceUnavailable)
	if state, _, _ := h.dbLease(t, id); state != "active" {
		t.Fatalf("after the lost write the lease is %s, want still active", state)
	}
	if code := h.emu.TryToken(ctx, issued.GetAuthScheme(), issued.GetToken()); code != http.StatusUnauthorized {
		t.Fatalf("the token answers %d after its delete, want 401", code)
	}

	deadline := time.Now().Add(30 * time.Second)
	for {
		state, reason, _ := h.dbLease(t, id)
		if state == "revoked" {
			if reason != "expired" {
				t.Errorf("revoked with reason %q, want expired", reason)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lease still %s 30s after a 4s TTL", state)
		}
		waitBriefly(ctx)
	}
}
