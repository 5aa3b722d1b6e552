package broker

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/store"
)

func TestQuotaRejection(t *testing.T) {
	t.Parallel()
	type step struct {
		id    *auth.Identity
		after time.Duration // clock advance before the issue
	}
	tests := []struct {
		name    string
		purpose string
		// admitted are issued and must succeed; then rejected is refused.
		admitted []step
		rejected step
		limit    string
		msg      string
		retry    time.Duration
	}{
		{
			name: "active per purpose", purpose: purposeQuotaActive,
			admitted: []step{{id: alice}},
			rejected: step{id: dave, after: 10 * time.Minute},
			limit:    "active_per_purpose", msg: `quota active_per_purpose of purpose "quota-purpose" reached (max 1)`,
			retry: defaultTTL - 10*time.Minute,
		},
		{
			name: "active per owner", purpose: purposeQuotaOwner,
			admitted: []step{{id: alice}, {id: dave}},
			rejected: step{id: alice, after: 10 * time.Minute},
			limit:    "active_per_owner", msg: `quota active_per_owner of purpose "quota-owner" reached (max 1)`,
			retry: defaultTTL - 10*time.Minute,
		},
		{
			name: "issue rate", purpose: purposeQuotaRate,
			admitted: []step{{id: alice}, {id: alice, after: 10 * time.Minute}},
			rejected: step{id: alice, after: 10 * time.Minute},
			limit:    "issue_rate", msg: `quota issue_rate of purpose "quota-rate" reached (max 2)`,
			retry: rateWindow - 20*time.Minute,
		},
		{
			// A fraction of a second still left is rounded up: retrying
			// on the dot must not be too early.
			name: "retry delay rounds up", purpose: purposeQuotaActive,
			admitted: []step{{id: alice}},
			rejected: step{id: dave, after: 10*time.Minute + 250*time.Millisecond},
			limit:    "active_per_purpose", msg: `quota active_per_purpose of purpose "quota-purpose" reached (max 1)`,
			retry: defaultTTL - 10*time.Minute,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			for i, s := range tt.admitted {
				b.clock.Advance(s.after)
				if _, err := b.svc.IssueToken(as(t, s.id), &ztbrokerv1.IssueTokenRequest{Purpose: tt.purpose}); err != nil {
					t.Fatalf("issue %d: %v", i, err)
				}
			}
			before := b.audit(t)
			now := b.clock.Advance(tt.rejected.after)

			_, err := b.svc.IssueToken(as(t, tt.rejected.id), &ztbrokerv1.IssueTokenRequest{Purpose: tt.purpose})
			wantStatus(t, err, codes.ResourceExhausted, tt.msg)
			if got := retryDelay(err); got != tt.retry {
				t.Errorf("RetryInfo delay %v, want %v", got, tt.retry)
			}
			want := append(before, &store.AuditEvent{
				Time: now, Action: ActionQuota, ActorKind: tt.rejected.id.Kind, ActorSubject: tt.rejected.id.Subject,
				Purpose: tt.purpose, Result: "rejected", Reason: tt.limit, Upstream: "new_central",
			})
			if diff := cmp.Diff(want, b.audit(t), ignoreAuditID); diff != "" {
				t.Errorf("audit (-want +got):\n%s", diff)
			}
			if n := len(b.leases(t)); n != len(tt.admitted) {
				t.Errorf("%d leases, want the %d admitted", n, len(tt.admitted))
			}
			if n := len(b.tokens()); n != len(tt.admitted) {
				t.Errorf("%d tokens minted upstream, want the %d admitted", n, len(tt.admitted))
			}
		})
	}
}

// TestQuotaFreedByRevoke checks an active-lease limit counts live leases
// only: revoking one frees its slot at once.
func TestQuotaFreedByRevoke(t *testing.T) {
	t.Parallel()
	b := setup(t)
	first, err := b.svc.IssueToken(as(t, alice), &ztbrokerv1.IssueTokenRequest{Purpose: purposeQuotaActive})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.svc.IssueToken(as(t, alice), &ztbrokerv1.IssueTokenRequest{Purpose: purposeQuotaActive}); gotStatus(err).Code != codes.ResourceExhausted {
		t.Fatalf("second issue: %v, want RESOURCE_EXHAUSTED", err)
	}
	if _, err := b.svc.RevokeLease(as(t, alice), &ztbrokerv1.RevokeLeaseRequest{Id: first.GetLease().GetId()}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.svc.IssueToken(as(t, alice), &ztbrokerv1.IssueTokenRequest{Purpose: purposeQuotaActive}); err != nil {
		t.Errorf("issue after revoking: %v", err)
	}
}
