package broker

import (
	"google.golang.org/grpc/status"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/testing/protocmp"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// with returns a second Service over the bench's store and upstreams,
// its config changed by f: another replica, say, with another seal key.
func (b *bench) with(t *testing.T, f func(*Config)) *Service {
	t.Helper()
	cfg := b.cfg
	f(&cfg)
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestReplayWithSealer(t *testing.T) {
	t.Parallel()
	for _, purpose := range []string{purposeNC, purposeLegacy} {
		t.Run(purpose, func(t *testing.T) {
			t.Parallel()
			b := setup(t, withSealer(newSealer(t)))
			req := &ztbrokerv1.IssueTokenRequest{Purpose: purpose, IdempotencyKey: "deploy-42"}
			first, err := b.svc.IssueToken(as(t, alice), req)
			if err != nil {
				t.Fatal(err)
			}
			// Just inside the window.
			b.clock.Advance(replayAfter - time.Microsecond)
			second, err := b.svc.IssueToken(as(t, alice), req)
			if err != nil {
				t.Fatalf("retry: %v", err)
			}
			if !second.GetReplayed() {
				t.Error("retry not marked replayed")
			}
			second.Replayed = false
			if diff := cmp.Diff(first, second, protocmp.Transform()); diff != "" {
				t.Errorf("replayed response differs (-first +retry):\n%s", diff)
			}
			if n := len(b.tokens()); n != 1 {
				t.Errorf("%d tokens minted upstream for one idempotency key, want 1", n)
			}
			if n := len(b.leases(t)); n != 1 {
				t.Errorf("%d leases for one idempotency key, want 1", n)
			}
			if diff := cmp.Diff([]string{ActionIssue, ActionReplay}, b.actions(t)); diff != "" {
				t.Errorf("audit actions (-want +got):\n%s", diff)
			}

			// Once the window closes the secret is gone for good.
			b.clock.Advance(time.Microsecond)
			_, err = b.svc.IssueToken(as(t, alice), req)
			wantStatus(t, err, codes.AlreadyExists, "lease "+first.GetLease().GetId()+
				" was already issued for this idempotency key; its replay window has passed and the secret cannot be shown again")
			if n := len(b.tokens()); n != 1 {
				t.Errorf("%d tokens after the window closed, want 1", n)
			}
			if leaks := b.leaked(t, first.GetToken(), err.Error()); len(leaks) > 0 {
				t.Errorf("secret found in %v", leaks)
			}
		})
	}
}

func TestReplayWithoutSealer(t *testing.T) {
	t.Parallel()
	b := setup(t)
	req := &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC, IdempotencyKey: "deploy-42"}
	first, err := b.svc.IssueToken(as(t, alice), req)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.svc.IssueToken(as(t, alice), req)
	wantStatus(t, err, codes.AlreadyExists, "lease "+first.GetLease().GetId()+
		" was already issued for this idempotency key; its secret cannot be shown again")
	if n := len(b.tokens()); n != 1 {
		t.Errorf("%d tokens minted upstream for one idempotency key, want 1", n)
	}
	if n := len(b.leases(t)); n != 1 {
		t.Errorf("%d leases for one idempotency key, want 1", n)
	}
	// Nothing was sealed, so nothing can be replayed later either.
	if _, err := b.mem.SealedSecret(t.Context(), store.SealedSecretParams{ID: first.GetLease().GetId(), Now: b.clock.Now()}); err == nil {
		t.Error("a secret was kept without a sealer")
	}
	if leaks := b.leaked(t, first.GetToken(), err.Error()); len(leaks) > 0 {
		t.Errorf("secret found in %v", leaks)
	}
}

// TestReplayRotatedKey checks a replica whose seal key changed answers as
// if the window had passed, rather than failing or minting again.
func TestReplayRotatedKey(t *testing.T) {
	t.Parallel()
	b := setup(t, withSealer(newSealer(t)))
	req := &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC, IdempotencyKey: "deploy-42"}
	first, err := b.svc.IssueToken(as(t, alice), req)
	if err != nil {
		t.Fatal(err)
	}
	other := b.with(t, func(c *Config) { c.Sealer = newSealer(t) })
	_, err = other.IssueToken(as(t, alice), req)
	wantStatus(t, err, codes.AlreadyExists, "lease "+first.GetLease().GetId()+
		" was already issued for this idempotency key; its secret cannot be shown again")
	if n := len(b.tokens()); n != 1 {
		t.Errorf("%d tokens, want 1", n)
	}
	if diff := cmp.Diff([]string{ActionIssue}, b.actions(t)); diff != "" {
		t.Errorf("audit actions (-want +got):\n%s", diff)
	}
}

// TestReplayScope checks an idempotency key belongs to one lease owner:
// another caller's same key is a new lease, not a replay, and the same
// caller's key for another purpose is refused, naming the purpose, never
// answered with the first lease.
func TestReplayScope(t *testing.T) {
	t.Parallel()
	b := setup(t, withSealer(newSealer(t)))
	const key = "shared-key"
	ids := map[string]bool{}
	for _, c := range []struct {
		id      *auth.Identity
		purpose string
	}{{alice, purposeNC}, {dave, purposeNC}} {
		resp, err := b.svc.IssueToken(as(t, c.id), &ztbrokerv1.IssueTokenRequest{Purpose: c.purpose, IdempotencyKey: key})
		if err != nil {
			t.Fatalf("%s on %s: %v", c.id.Owner(), c.purpose, err)
		}
		if resp.GetReplayed() {
			t.Errorf("%s on %s: replayed another caller's lease", c.id.Owner(), c.purpose)
		}
		ids[resp.GetLease().GetId()] = true
	}
	if len(ids) != 2 || len(b.tokens()) != 2 {
		t.Errorf("%d leases and %d tokens, want 2 of each", len(ids), len(b.tokens()))
	}
	_, err := b.svc.IssueToken(as(t, alice), &ztbrokerv1.IssueTokenRequest{Purpose: purposeLegacy, IdempotencyKey: key})
	if status.Code(err) != codes.FailedPrecondition || !strings.Contains(status.Convert(err).Message(), "different purpose") {
		t.Errorf("alice's key for another purpose: %v; want FAILED_PRECONDITION naming the purpose", err)
	}
	if n := len(b.tokens()); n != 2 {
		t.Errorf("%d tokens after the refused reuse, want 2", n)
	}
}

// TestReplayOfUnfinishedLease covers a retry that arrives while the first
// request is still minting, or after its lease has ended.
func TestReplayOfUnfinishedLease(t *testing.T) {
	t.Parallel()
	const key = "deploy-42"
	tests := []struct {
		name string
		// prepare leaves a lease for key in some state and returns its id.
		prepare func(t *testing.T, b *bench) string
		code    codes.Code
		msg     string
		retry   time.Duration
	}{
		{
			name:    "still pending",
			prepare: func(t *testing.T, b *bench) string { return b.pending(t, alice, purposeNC, key) },
			code:    codes.Unavailable, msg: "lease %s for this idempotency key is still being issued; retry",
			retry: time.Second,
		},
		{
			name: "revoked",
			prepare: func(t *testing.T, b *bench) string {
				resp, err := b.svc.IssueToken(as(t, alice), &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC, IdempotencyKey: key})
				if err != nil {
					t.Fatal(err)
				}
				if _, err := b.svc.RevokeLease(as(t, alice), &ztbrokerv1.RevokeLeaseRequest{Id: resp.GetLease().GetId()}); err != nil {
					t.Fatal(err)
				}
				return resp.GetLease().GetId()
			},
			code: codes.FailedPrecondition, msg: "lease %s for this idempotency key has already ended (revoked); use a new key",
			retry: -1,
		},
		{
			name: "mint failed",
			prepare: func(t *testing.T, b *bench) string {
				if err := b.emu.SetFault(emulator.RouteV2CreateKey, emulator.Fault{Status: 400, Times: 1}); err != nil {
					t.Fatal(err)
				}
				_, err := b.svc.IssueToken(as(t, alice), &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC, IdempotencyKey: key})
				if gotStatus(err).Code != codes.Unavailable {
					t.Fatalf("first issue: %v, want UNAVAILABLE", err)
				}
				return b.leases(t)[0].ID
			},
			code: codes.FailedPrecondition, msg: "lease %s for this idempotency key has already ended (failed); use a new key",
			retry: -1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, withSealer(newSealer(t)))
			id := tt.prepare(t, b)
			before := len(b.tokens())
			_, err := b.svc.IssueToken(as(t, alice), &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC, IdempotencyKey: key})
			wantStatus(t, err, tt.code, fmtID(tt.msg, id))
			if got := retryDelay(err); got != tt.retry {
				t.Errorf("retry delay %v, want %v", got, tt.retry)
			}
			if n := len(b.tokens()); n != before {
				t.Errorf("the retry minted %d more tokens", n-before)
			}
			if n := len(b.leases(t)); n != 1 {
				t.Errorf("%d leases, want 1", n)
			}
			// A new key is a new lease.
			if _, err := b.svc.IssueToken(as(t, alice), &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC, IdempotencyKey: key + "-2"}); err != nil {
				t.Errorf("issue with a new key: %v", err)
			}
		})
	}
}
