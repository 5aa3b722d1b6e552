package server_test

import (
	"context"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc/codes"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

// countingStore counts the calls that reach the database.
type countingStore struct {
	store.Store
	calls *atomic.Int64
}

func (s countingStore) AppendAudit(ctx context.Context, e *store.AuditEvent) error {
	s.calls.Add(1)
	return s.Store.AppendAudit(ctx, e)
}

func (s countingStore) GetLease(ctx context.Context, p store.GetLeaseParams) (*lease.Lease, error) {
	s.calls.Add(1)
	return s.Store.GetLease(ctx, p)
}

func (s countingStore) CreatePending(ctx context.Context, p store.CreatePendingParams) (*store.CreatePendingResult, error) {
	s.calls.Add(1)
	return s.Store.CreatePending(ctx, p)
}

// TestRefusalFlood floods the broker with requests from callers that
// authenticate but are not admitted, over each transport. Each owner gets
// a few refusals, then is turned away with RESOURCE_EXHAUSTED and retry
// information before any database work; its audit events stop at the
// budget, and a summary event counts the rest.
func TestRefusalFlood(t *testing.T) {
	t.Parallel()
	idp := newFakeIdP(t)
	var calls atomic.Int64
	limits := `audit:
  refusal_events: {per_second: 0.001, burst: 2}
  summary_interval: 1h
refusals:
  per_owner: {per_second: 0.001, burst: 4}
  per_address: {per_second: 0.001, burst: 1000}
`
	h := setup(t, withYAML("", idp.authYAML(), deployPurpose+"\n"+limits),
		withStore(func(s store.Store) store.Store { return countingStore{s, &calls} }))
	ctx := testContext(t)

	for _, a := range h.apis() {
		t.Run(a.name(), func(t *testing.T) {
			sub := "flood-" + a.name()
			// Not admitted: the deploy rule wants refs/heads/main, and
			// the 4 KB ref is kept, as the attacker's claims were.
			tok := idp.token(t, sub, map[string]any{"ref": "refs/heads/" + strings.Repeat("x", 4096)})
			for range 4 {
				_, err := a.issue(ctx, tok, issueWith(purposeDeploy, 0, nil))
				wantErr(t, err, codes.PermissionDenied, http.StatusForbidden)
			}
			before := calls.Load()
			for range 20 {
				_, err := a.issue(ctx, tok, issueWith(purposeDeploy, 0, nil))
				ae := wantErr(t, err, codes.ResourceExhausted, http.StatusTooManyRequests)
				if a.name() == "rest" && ae.RetryAfter == "" {
					t.Error("turned away over REST without Retry-After")
				}
				_, err = a.get(ctx, tok, "00000000-0000-7000-8000-000000000000")
				wantErr(t, err, codes.ResourceExhausted, http.StatusTooManyRequests)
			}
			if n := calls.Load() - before; n != 0 {
				t.Errorf("40 requests turned away made %d store calls, want 0", n)
			}
			// The address itself is not spent: a caller who is admitted
			// still gets through from the same address.
			if _, err := a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC}); err != nil {
				t.Errorf("an admitted caller from the same address: %v", err)
			}
		})
	}

	// Stopping flushes the summaries.
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	for _, transport := range []string{"grpc", "rest"} {
		subject := idpName + "/flood-" + transport
		var denies int
		if err := h.db.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE action = 'deny' AND actor_subject = $1`, subject).Scan(&denies); err != nil {
			t.Fatal(err)
		}
		if denies != 2 {
			t.Errorf("%s: %d deny events recorded, want the budget of 2", transport, denies)
		}
		var reason string
		var maxClaim int
		err := h.db.QueryRow(ctx, `SELECT reason, (SELECT max(length(value)) FROM jsonb_each_text(actor_claims)) FROM audit_events
			WHERE action = 'refusals_summary' AND actor_subject = $1`, subject).Scan(&reason, &maxClaim)
		if err != nil {
			t.Fatalf("%s: no summary event: %v", transport, err)
		}
		if !strings.HasPrefix(reason, "2 deny events not recorded, 40 requests turned away between ") {
			t.Errorf("%s: summary says %q", transport, reason)
		}
		if maxClaim > 300 {
			t.Errorf("%s: the summary keeps a %d-byte claim", transport, maxClaim)
		}
	}
}

// TestRefusalsPerAddress: many owners from one address share its budget,
// so inventing owners does not get a flood past the limit.
func TestRefusalsPerAddress(t *testing.T) {
	t.Parallel()
	idp := newFakeIdP(t)
	limits := `refusals:
  per_owner: {per_second: 0.001, burst: 100}
  per_address: {per_second: 0.001, burst: 3}
`
	for _, transport := range []string{"grpc", "rest"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			h := setup(t, withYAML("", idp.authYAML(), deployPurpose+"\n"+limits))
			a := h.apis()[0]
			if transport == "rest" {
				a = h.apis()[1]
			}
			ctx := testContext(t)
			for i := range 3 {
				_, err := a.issue(ctx, idp.token(t, "owner-"+string(rune('a'+i)), map[string]any{"ref": "refs/heads/x"}), issueWith(purposeDeploy, 0, nil))
				wantErr(t, err, codes.PermissionDenied, http.StatusForbidden)
			}
			_, err := a.issue(ctx, idp.token(t, "owner-new", nil), issueWith(purposeDeploy, 0, nil))
			wantErr(t, err, codes.ResourceExhausted, http.StatusTooManyRequests)
			_, err = a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC})
			wantErr(t, err, codes.ResourceExhausted, http.StatusTooManyRequests)
		})
	}
}

// TestQuotaRejectFlood: quota rejections through the API are recorded up
// to the owner's budget of refusal events; the rest are counted into the
// summary that stopping writes.
func TestQuotaRejectFlood(t *testing.T) {
	t.Parallel()
	limits := `audit:
  refusal_events: {per_second: 0.001, burst: 2}
  summary_interval: 1h
`
	h := setup(t, withYAML("", "", limits))
	ctx := testContext(t)
	for i := range quotaActive {
		if _, err := (grpcAPI{h}).issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeQuota}); err != nil {
			t.Fatalf("issue %d within the quota: %v", i+1, err)
		}
	}
	for _, a := range h.apis() {
		for range 3 {
			_, err := a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeQuota})
			wantErr(t, err, codes.ResourceExhausted, http.StatusTooManyRequests)
		}
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	var rejects int
	if err := h.db.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE action = 'quota_reject' AND actor_kind = 'api_key' AND actor_subject = 'alice'`).Scan(&rejects); err != nil {
		t.Fatal(err)
	}
	if rejects != 2 {
		t.Errorf("%d quota_reject events recorded for 6 rejections, want the budget of 2", rejects)
	}
	var reason string
	if err := h.db.QueryRow(ctx, `SELECT reason FROM audit_events WHERE action = 'refusals_summary' AND actor_kind = 'api_key' AND actor_subject = 'alice'`).Scan(&reason); err != nil {
		t.Fatalf("no summary event: %v", err)
	}
	if !strings.HasPrefix(reason, "4 quota_reject events not recorded between ") {
		t.Errorf("summary says %q", reason)
	}
}
