package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/types/known/durationpb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// leaky are fragments no caller-facing message may contain: SQL, URLs,
// and the secrets of the harness.
func (h *harness) leaky() []string {
	return []string{"SELECT", "INSERT", "UPDATE ", "SQLSTATE", "pgx", "http://", "https://", "127.0.0.1",
		h.emu.URL, h.emu.AdminToken, h.keyA, h.keyB, h.keyRoot, h.sealKey}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	h := setup(t)
	ctx := testContext(t)
	victim, err := grpcAPI{h}.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC})
	if err != nil {
		t.Fatalf("issue: %v", err)
	}
	vid := victim.GetLease().GetId()

	tests := []struct {
		name     string
		call     func(context.Context, api) error
		code     codes.Code
		http     int
		contains string
	}{
		{"unknown purpose", func(ctx context.Context, a api) error {
			_, err := a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: "no-such"})
			return err
		}, codes.NotFound, 404, "no-such"},
		{"zero ttl", func(ctx context.Context, a api) error {
			_, err := a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC, Ttl: durationpb.New(0)})
			return err
		}, codes.InvalidArgument, 400, "positive"},
		{"negative ttl", func(ctx context.Context, a api) error {
			_, err := a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC, Ttl: durationpb.New(-time.Second)})
			return err
		}, codes.InvalidArgument, 400, "positive"},
		{"ttl over max", func(ctx context.Context, a api) error {
			_, err := a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC, Ttl: durationpb.New(maxTTL + time.Second)})
			return err
		}, codes.InvalidArgument, 400, maxTTL.String()},
		{"ttl below the minimum", func(ctx context.Context, a api) error {
			_, err := a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC, Ttl: durationpb.New(time.Nanosecond)})
			return err
		}, codes.InvalidArgument, 400, "minimum of 1s"},
		{"renew ttl below the minimum", func(ctx context.Context, a api) error {
			_, err := a.renew(ctx, h.keyA, &ztbrokerv1.RenewLeaseRequest{Id: vid, Ttl: durationpb.New(500 * time.Millisecond)})
			return err
		}, codes.InvalidArgument, 400, "minimum of 1s"},
		{"renew ttl over max", func(ctx context.Context, a api) error {
			_, err := a.renew(ctx, h.keyA, &ztbrokerv1.RenewLeaseRequest{Id: vid, Ttl: durationpb.New(maxTTL + time.Second)})
			return err
		}, codes.InvalidArgument, 400, maxTTL.String()},
		{"no credentials", func(ctx context.Context, a api) error {
			_, err := a.issue(ctx, "", &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC})
			return err
		}, codes.Unauthenticated, 401, ""},
		{"wrong key", func(ctx context.Context, a api) error {
			_, err := a.list(ctx, "ztb_wrong_key", &ztbrokerv1.ListLeasesRequest{})
			return err
		}, codes.Unauthenticated, 401, ""},
		{"purpose not allowed", func(ctx context.Context, a api) error {
			_, err := a.issue(ctx, h.keyB, &ztbrokerv1.IssueTokenRequest{Purpose: purposeAlice})
			return err
		}, codes.PermissionDenied, 403, purposeAlice},
		{"other caller reads", func(ctx context.Context, a api) error {
			_, err := a.get(ctx, h.keyB, vid)
			return err
		}, codes.NotFound, 404, ""},
		{"other caller renews", func(ctx context.Context, a api) error {
			_, err := a.renew(ctx, h.keyB, &ztbrokerv1.RenewLeaseRequest{Id: vid})
			return err
		}, codes.NotFound, 404, ""},
		{"other caller revokes", func(ctx context.Context, a api) error {
			_, err := a.revoke(ctx, h.keyB, &ztbrokerv1.RevokeLeaseRequest{Id: vid})
			return err
		}, codes.NotFound, 404, ""},
		{"unknown lease", func(ctx context.Context, a api) error {
			_, err := a.get(ctx, h.keyA, "00000000-0000-7000-8000-000000000000")
			return err
		}, codes.NotFound, 404, ""},
		{"bad label", func(ctx context.Context, a api) error {
			_, err := a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC, Labels: map[string]string{"Bad Key": "x"}})
			return err
		}, codes.InvalidArgument, 400, "label"},
		// Control characters: PostgreSQL cannot store NUL (it was a 500),
		// and the rest forge lines and terminal escapes where the value
		// is shown again.
		{"NUL in a label value", func(ctx context.Context, a api) error {
			_, err := a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC, Labels: map[string]string{"job": "a\x00b"}})
			return err
		}, codes.InvalidArgument, 400, "control characters"},
		{"escape sequence in a label value", func(ctx context.Context, a api) error {
			_, err := a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC, Labels: map[string]string{"job": "\x1b[2J"}})
			return err
		}, codes.InvalidArgument, 400, "control characters"},
		{"newline in an idempotency key", func(ctx context.Context, a api) error {
			_, err := a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC, IdempotencyKey: "k\nforged"})
			return err
		}, codes.InvalidArgument, 400, "idempotency_key"},
		{"NUL in a revoke reason", func(ctx context.Context, a api) error {
			_, err := a.revoke(ctx, h.keyA, &ztbrokerv1.RevokeLeaseRequest{Id: vid, Reason: "done\x00"})
			return err
		}, codes.InvalidArgument, 400, "reason"},
		{"NUL in a lease id", func(ctx context.Context, a api) error {
			_, err := a.get(ctx, h.keyA, "0000\x00")
			return err
		}, codes.InvalidArgument, 400, "id"},
		{"NUL in a label filter", func(ctx context.Context, a api) error {
			_, err := a.list(ctx, h.keyA, &ztbrokerv1.ListLeasesRequest{Label: "job=a\x00"})
			return err
		}, codes.InvalidArgument, 400, "label filter"},
		{"NUL in a purpose filter", func(ctx context.Context, a api) error {
			_, err := a.list(ctx, h.keyA, &ztbrokerv1.ListLeasesRequest{Purpose: "nc\x00"})
			return err
		}, codes.InvalidArgument, 400, "purpose"},
		// C1 controls (CSI, NEL) and DEL are control characters too.
		{"C1 CSI in a label value", func(ctx context.Context, a api) error {
			_, err := a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC, Labels: map[string]string{"job": "\u009b2J"}})
			return err
		}, codes.InvalidArgument, 400, "U+009B"},
		{"C1 NEL in an idempotency key", func(ctx context.Context, a api) error {
			_, err := a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC, IdempotencyKey: "k\u0085forged"})
			return err
		}, codes.InvalidArgument, 400, "idempotency_key"},
		{"DEL in a revoke reason", func(ctx context.Context, a api) error {
			_, err := a.revoke(ctx, h.keyA, &ztbrokerv1.RevokeLeaseRequest{Id: vid, Reason: "done\x7f"})
			return err
		}, codes.InvalidArgument, 400, "U+007F"},
		{"DEL in a label filter", func(ctx context.Context, a api) error {
			_, err := a.list(ctx, h.keyA, &ztbrokerv1.ListLeasesRequest{Label: "job=a\x7f"})
			return err
		}, codes.InvalidArgument, 400, "label filter"},
		// The admin filters are text for the same database and trail.
		{"NUL in the admin owner filter", func(ctx context.Context, a api) error {
			_, err := a.(fullAPI).revokeLeases(ctx, h.keyRoot, &ztbrokerv1.RevokeLeasesRequest{
				Filter: &ztbrokerv1.LeaseFilter{Owner: "api_key:alice\x00"}, DryRun: true})
			return err
		}, codes.InvalidArgument, 400, "filter.owner"},
		{"NUL in the audit actor filter", func(ctx context.Context, a api) error {
			_, err := a.(fullAPI).audit(ctx, h.keyRoot, &ztbrokerv1.ListAuditEventsRequest{Actor: "api_key:alice\x00"})
			return err
		}, codes.InvalidArgument, 400, "actor"},
		{"NUL in the audit action filter", func(ctx context.Context, a api) error {
			_, err := a.(fullAPI).audit(ctx, h.keyRoot, &ztbrokerv1.ListAuditEventsRequest{Action: "issue\x00"})
			return err
		}, codes.InvalidArgument, 400, "action"},
		{"NUL in the audit upstream filter", func(ctx context.Context, a api) error {
			_, err := a.(fullAPI).audit(ctx, h.keyRoot, &ztbrokerv1.ListAuditEventsRequest{Upstream: "prod\x00"})
			return err
		}, codes.InvalidArgument, 400, "upstream"},
	}
	for _, tc := range tests {
		for _, a := range h.apis() {
			t.Run(a.name()+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				// Its own deadline: a parallel subtest may wait a while for a slot.
				err := tc.call(testContext(t), a)
				ae := wantErr(t, err, tc.code, tc.http)
				if !strings.Contains(ae.Msg, tc.contains) {
					t.Errorf("message %q does not name %q", ae.Msg, tc.contains)
				}
				if leaks := containsAny(ae.Msg, h.leaky()); len(leaks) > 0 {
					t.Errorf("message %q leaks %q", ae.Msg, leaks)
				}
			})
		}
	}

	// The victim survived every attempt by bob, and the refused requests
	// left nothing behind.
	if st, _, _ := h.dbLease(t, vid); st != "active" {
		t.Errorf("victim lease is %s after bob's attempts", st)
	}
	if n := h.activeLeases(t, purposeNC); n != 1 {
		t.Errorf("%d leases of %s after the bad requests, want the victim alone", n, purposeNC)
	}

	// Every refusal of the REST door is a fixed message naming the field;
	// none is a parser's text.
	const badTTL = `invalid request body: field "ttl" must be a duration such as "900s", "15m" or "1h30m"`
	restOnly := []struct {
		name   string
		method string
		path   string
		body   string
		http   int
		want   string
	}{
		{"malformed json", "POST", "/v1/purposes/nc/tokens", `{"ttl": `, http.StatusBadRequest, "invalid request body: not valid JSON"},
		{"malformed key", "POST", "/v1/purposes/nc/tokens", `{bad}`, http.StatusBadRequest, "invalid request body: not valid JSON"},
		{"wrong json type", "POST", "/v1/purposes/nc/tokens", `{"ttl": 5}`, http.StatusBadRequest, badTTL},
		{"bad duration", "POST", "/v1/purposes/nc/tokens", `{"ttl": "15 minutes"}`, http.StatusBadRequest, badTTL},
		{"bad renew duration", "POST", "/v1/leases/" + vid + ":renew", `{"ttl": "1d"}`, http.StatusBadRequest, badTTL},
		{"wrong label type", "POST", "/v1/purposes/nc/tokens", `{"labels": {"a": true}}`, http.StatusBadRequest,
			`invalid request body: field "labels" must be an object of a string`},
		{"unknown field", "POST", "/v1/purposes/nc/tokens", `{"nope": 1}`, http.StatusBadRequest, `invalid request body: unknown field "nope"`},
		{"bad query parameter", "GET", "/v1/leases?page_size=many", "", http.StatusBadRequest, `invalid query parameter "page_size"`},
		{"bad enum in query", "GET", "/v1/leases?state=GONE", "", http.StatusBadRequest, `invalid query parameter "state"`},
		{"oversized body", "POST", "/v1/purposes/nc/tokens", `{"labels":{"a":"` + strings.Repeat("x", 5000) + `"}}`, http.StatusRequestEntityTooLarge,
			"request body exceeds the limit"},
		{"unknown route", "POST", "/v1/nowhere", `{}`, http.StatusNotFound, "no route for POST /v1/nowhere"},
	}
	for _, tc := range restOnly {
		t.Run("rest/"+tc.name, func(t *testing.T) {
			t.Parallel()
			// Its own deadline: a parallel subtest may wait a while for a slot.
			ctx := testContext(t)
			var body []byte
			if tc.body != "" {
				body = []byte(tc.body)
			}
			status, _, raw, err := h.raw(ctx, tc.method, tc.path, h.keyA, body)
			if err != nil {
				t.Fatal(err)
			}
			if status != tc.http {
				t.Fatalf("status %d, want %d; body %s", status, tc.http, raw)
			}
			var e struct{ Message string }
			if err := json.Unmarshal(raw, &e); err != nil || e.Message == "" {
				t.Fatalf("error body %q is not a JSON error", raw)
			}
			if e.Message != tc.want {
				t.Errorf("message %q, want %q", e.Message, tc.want)
			}
			if leaks := containsAny(e.Message, h.leaky()); len(leaks) > 0 {
				t.Errorf("message %q leaks %q", e.Message, leaks)
			}
		})
	}
}

// TestUpstreamFailure proves a failed mint is UNAVAILABLE to the caller
// and leaves neither an active lease nor a live token behind.
func TestUpstreamFailure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		fault emulator.Fault
	}{
		{"503", emulator.Fault{Status: http.StatusServiceUnavailable}},
		{"hang", emulator.Fault{Hang: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := setup(t, withUpstreamTimeout(500*time.Millisecond))
			if err := h.emu.SetFault(emulator.RouteV2CreateKey, tc.fault); err != nil {
				t.Fatal(err)
			}
			ctx := testContext(t)
			for _, a := range h.apis() {
				_, err := a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC})
				ae := wantErr(t, err, codes.Unavailable, http.StatusServiceUnavailable)
				if leaks := containsAny(ae.Msg, h.leaky()); len(leaks) > 0 {
					t.Errorf("%s: message %q leaks %q", a.name(), ae.Msg, leaks)
				}
			}
			if n := h.activeLeases(t, purposeNC); n != 0 {
				t.Errorf("%d leases pending or active after failed mints", n)
			}
			if n := h.liveTokens(); n != 0 {
				t.Errorf("%d live tokens upstream after failed mints", n)
			}
		})
	}
}
