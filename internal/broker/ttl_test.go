package broker

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/auth"
	"github.com/ztbroker/ztbroker/internal/lease"
)

func TestIssueTTL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		id   *auth.Identity
		ttl  *durationpb.Duration
		// On success the lease expires after expire and may be renewed
		// up to max; otherwise the call fails with code and msg.
		expire, max time.Duration
		code        codes.Code
		msg         string
	}{
		{name: "default", id: alice, expire: defaultTTL, max: maxTTL},
		{name: "requested", id: alice, ttl: durationpb.New(2 * time.Hour), expire: 2 * time.Hour, max: maxTTL},
		{name: "requested below default", id: alice, ttl: durationpb.New(time.Minute), expire: time.Minute, max: maxTTL},
		{name: "exactly the max", id: alice, ttl: durationpb.New(maxTTL), expire: maxTTL, max: maxTTL},
		{name: "rule cap lowers the default", id: ci, expire: ruleCap, max: ruleCap},
		{name: "requested under the rule cap", id: ci, ttl: durationpb.New(20 * time.Minute), expire: 20 * time.Minute, max: ruleCap},
		{name: "rule cap above the purpose max", id: wide, ttl: durationpb.New(maxTTL), expire: maxTTL, max: maxTTL},
		{
			name: "above the rule cap", id: ci, ttl: durationpb.New(45 * time.Minute),
			code: codes.InvalidArgument, msg: `ttl 45m0s exceeds the maximum of 30m0s for purpose "netops"`,
		},
		{
			name: "above the purpose max", id: alice, ttl: durationpb.New(maxTTL + time.Second),
			code: codes.InvalidArgument, msg: `ttl 4h0m1s exceeds the maximum of 4h0m0s for purpose "netops"`,
		},
		{
			name: "rule cap above the purpose max does not raise it", id: wide, ttl: durationpb.New(maxTTL + time.Second),
			code: codes.InvalidArgument, msg: `ttl 4h0m1s exceeds the maximum of 4h0m0s for purpose "netops"`,
		},
		{
			name: "zero", id: alice, ttl: durationpb.New(0),
			code: codes.InvalidArgument, msg: "ttl must be positive, got 0s",
		},
		{
			name: "negative", id: alice, ttl: durationpb.New(-time.Minute),
			code: codes.InvalidArgument, msg: "ttl must be positive, got -1m0s",
		},
		{
			name: "invalid duration", id: alice, ttl: &durationpb.Duration{Seconds: 60, Nanos: -1},
			code: codes.InvalidArgument, msg: "ttl is not a valid duration",
		},
		{
			name: "out of range duration", id: alice, ttl: &durationpb.Duration{Seconds: 315_576_000_001},
			code: codes.InvalidArgument, msg: "ttl is not a valid duration",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			now := b.clock.Now()
			resp, err := b.svc.IssueToken(as(t, tt.id), &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC, Ttl: tt.ttl})
			if tt.code != codes.OK {
				wantStatus(t, err, tt.code, tt.msg)
				if n := len(b.leases(t)); n != 0 {
					t.Errorf("a refused TTL wrote %d leases", n)
				}
				if n := len(b.tokens()); n != 0 {
					t.Errorf("a refused TTL minted %d tokens", n)
				}
				return
			}
			if err != nil {
				t.Fatalf("IssueToken: %v", err)
			}
			got := [2]time.Time{resp.GetLease().GetExpireTime().AsTime(), resp.GetLease().GetMaxExpireTime().AsTime()}
			if diff := cmp.Diff([2]time.Time{now.Add(tt.expire), now.Add(tt.max)}, got); diff != "" {
				t.Errorf("[expire, max expire] (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGrantTTL covers the rule-cap arithmetic directly, including a
// default above a rule's cap and a zero cap (meaning the purpose's max).
func TestGrantTTL(t *testing.T) {
	t.Parallel()
	p := &Purpose{Name: "p", DefaultTTL: time.Hour, MaxTTL: 2 * time.Hour}
	tests := []struct {
		name     string
		ruleCap  time.Duration
		ttl      *durationpb.Duration
		ttlOut   time.Duration
		maxOut   time.Duration
		wantFail bool
	}{
		{name: "no cap", ttlOut: time.Hour, maxOut: 2 * time.Hour},
		{name: "cap below default", ruleCap: 10 * time.Minute, ttlOut: 10 * time.Minute, maxOut: 10 * time.Minute},
		{name: "cap between default and max", ruleCap: 90 * time.Minute, ttlOut: time.Hour, maxOut: 90 * time.Minute},
		{name: "cap above max", ruleCap: 3 * time.Hour, ttlOut: time.Hour, maxOut: 2 * time.Hour},
		{name: "request at cap", ruleCap: 90 * time.Minute, ttl: durationpb.New(90 * time.Minute), ttlOut: 90 * time.Minute, maxOut: 90 * time.Minute},
		{name: "request over cap", ruleCap: 90 * time.Minute, ttl: durationpb.New(91 * time.Minute), wantFail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			adm := policyDecision(tt.ruleCap)
			g, err := grantTTL(p, adm, &ztbrokerv1.IssueTokenRequest{Ttl: tt.ttl})
			if tt.wantFail {
				if err == nil {
					t.Fatalf("grantTTL = %+v; want an error", g)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff([2]time.Duration{tt.ttlOut, tt.maxOut}, [2]time.Duration{g.ttl, g.max}); diff != "" {
				t.Errorf("[ttl, max] (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRenewLease(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		id   *auth.Identity // issues and renews; alice when nil
		// issued is the lease's ttl at issue; the default when zero.
		issued time.Duration
		// after is how long after issue the renewal comes.
		after time.Duration
		ttl   *durationpb.Duration
		// expire is the lease's expiry after renewal, counted from issue;
		// zero when the renewal fails with code and msg.
		expire time.Duration
		code   codes.Code
		msg    string
	}{
		{name: "default ttl counts from now", after: 30 * time.Minute, expire: 30*time.Minute + defaultTTL},
		{name: "requested ttl counts from now", after: 30 * time.Minute, ttl: durationpb.New(2 * time.Hour), expire: 150 * time.Minute},
		{name: "capped at max expire", issued: 2 * time.Hour, after: 90 * time.Minute, ttl: durationpb.New(3 * time.Hour), expire: maxTTL},
		{name: "capped at the rule's max expire", id: ci, after: 10 * time.Minute, ttl: durationpb.New(ruleCap), expire: ruleCap},
		{
			name: "above the rule cap", id: ci, after: 10 * time.Minute, ttl: durationpb.New(2 * time.Hour),
			code: codes.InvalidArgument, msg: `ttl 2h0m0s exceeds the maximum of 30m0s for purpose "netops"`,
		},
		{name: "never shortens", after: 10 * time.Minute, ttl: durationpb.New(10 * time.Minute), expire: defaultTTL},
		{
			name: "above the purpose max", after: time.Minute, ttl: durationpb.New(maxTTL + time.Hour),
			code: codes.InvalidArgument, msg: `ttl 5h0m0s exceeds the maximum of 4h0m0s for purpose "netops"`,
		},
		{name: "zero", ttl: durationpb.New(0), code: codes.InvalidArgument, msg: "ttl must be positive, got 0s"},
		{name: "invalid", ttl: &durationpb.Duration{Seconds: -1, Nanos: 1}, code: codes.InvalidArgument, msg: "ttl is not a valid duration"},
		{name: "expired", after: defaultTTL, code: codes.FailedPrecondition, msg: "lease %s has expired and cannot be renewed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			id := tt.id
			if id == nil {
				id = alice
			}
			issued := b.clock.Now()
			req := &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC}
			if tt.issued > 0 {
				req.Ttl = durationpb.New(tt.issued)
			}
			resp, err := b.svc.IssueToken(as(t, id), req)
			if err != nil {
				t.Fatal(err)
			}
			leaseID := resp.GetLease().GetId()
			before := b.actions(t)
			now := b.clock.Advance(tt.after)

			out, err := b.svc.RenewLease(as(t, id), &ztbrokerv1.RenewLeaseRequest{Id: leaseID, Ttl: tt.ttl})
			if tt.code != codes.OK {
				wantStatus(t, err, tt.code, fmtID(tt.msg, leaseID))
				if got := b.lease(t, leaseID).ExpireTime; !got.Equal(resp.GetLease().GetExpireTime().AsTime()) {
					t.Errorf("a failed renewal moved the expiry to %v", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("RenewLease: %v", err)
			}
			want := issued.Add(tt.expire)
			if got := out.GetLease().GetExpireTime().AsTime(); !got.Equal(want) {
				t.Errorf("expire after renewal %v, want %v", got, want)
			}
			if got := b.lease(t, leaseID).ExpireTime; !got.Equal(want) {
				t.Errorf("stored expiry %v, want %v", got, want)
			}
			if got := out.GetLease().GetMaxExpireTime().AsTime(); !got.Equal(resp.GetLease().GetMaxExpireTime().AsTime()) {
				t.Errorf("renewal moved the max expire time to %v", got)
			}
			wantActions := before
			if want.After(resp.GetLease().GetExpireTime().AsTime()) {
				wantActions = append(wantActions, ActionRenew)
				ev := b.audit(t)[len(b.audit(t))-1]
				if ev.Reason != "until "+want.Format(time.RFC3339) || !ev.Time.Equal(now) || ev.LeaseID != leaseID {
					t.Errorf("renew event %+v", ev)
				}
			}
			if diff := cmp.Diff(wantActions, b.actions(t)); diff != "" {
				t.Errorf("audit actions (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRenewEndedLease checks a revoked lease cannot come back.
func TestRenewEndedLease(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, err := b.svc.IssueToken(as(t, alice), &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC})
	if err != nil {
		t.Fatal(err)
	}
	id := resp.GetLease().GetId()
	if _, err := b.svc.RevokeLease(as(t, alice), &ztbrokerv1.RevokeLeaseRequest{Id: id}); err != nil {
		t.Fatal(err)
	}
	_, err = b.svc.RenewLease(as(t, alice), &ztbrokerv1.RenewLeaseRequest{Id: id})
	wantStatus(t, err, codes.FailedPrecondition, "lease "+id+" is revoked and cannot be renewed")
	if got := b.lease(t, id).State; got != lease.StateRevoked {
		t.Errorf("state %s, want revoked", got)
	}
}
