package server_test

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/durationpb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
)

// TestNoSecretAnywhere runs a busy session and then searches everything
// the broker wrote or said for every secret involved.
func TestNoSecretAnywhere(t *testing.T) {
	t.Parallel()
	h := setup(t)
	ctx := testContext(t)
	var tokens, errMsgs []string
	var revokedHash string
	for _, a := range h.apis() {
		for _, purpose := range []string{purposeNC, purposeLegacy} {
			r, err := a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purpose, IdempotencyKey: a.name() + purpose, Labels: map[string]string{"k": "v"}})
			if err != nil {
				t.Fatalf("issue: %v", err)
			}
			tokens = append(tokens, r.GetToken())
			// Replays, renewals and revocations all log and audit.
			if _, err := a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purpose, IdempotencyKey: a.name() + purpose, Labels: map[string]string{"k": "v"}}); err != nil {
				t.Fatalf("replay: %v", err)
			}
			if _, err := a.renew(ctx, h.keyA, &ztbrokerv1.RenewLeaseRequest{Id: r.GetLease().GetId(), Ttl: durationpb.New(time.Minute)}); err != nil {
				t.Fatalf("renew: %v", err)
			}
			if _, err := a.revoke(ctx, h.keyA, &ztbrokerv1.RevokeLeaseRequest{Id: r.GetLease().GetId()}); err != nil {
				t.Fatalf("revoke: %v", err)
			}
			revokedHash = r.GetLease().GetTokenSha256()
			// Failures: a wrong key, a forbidden purpose, a foreign lease.
			for _, call := range []func() error{
				func() error {
					_, err := a.issue(ctx, h.keyA+"x", &ztbrokerv1.IssueTokenRequest{Purpose: purpose})
					return err
				},
				func() error {
					_, err := a.issue(ctx, h.keyB, &ztbrokerv1.IssueTokenRequest{Purpose: purposeAlice})
					return err
				},
				func() error { _, err := a.get(ctx, h.keyB, r.GetLease().GetId()); return err },
				func() error {
					_, err := a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purpose, Labels: map[string]string{"k": r.GetToken()[:8] + strings.Repeat("z", 300)}})
					return err
				},
			} {
				err := call()
				if err == nil {
					t.Fatal("a failing call succeeded")
				}
				errMsgs = append(errMsgs, err.Error())
			}
		}
	}
	// Tokens still alive at shutdown too.
	live, err := grpcAPI{h}.issue(ctx, h.keyB, &ztbrokerv1.IssueTokenRequest{Purpose: purposeLegacy})
	if err != nil {
		t.Fatal(err)
	}
	tokens = append(tokens, live.GetToken())

	secrets := append([]string{h.keyA, h.keyB, h.keyRoot, h.emu.AdminToken, h.sealKey}, tokens...)
	for _, s := range tokens {
		if len(s) < 16 {
			t.Fatalf("token %d characters long is too short to search for meaningfully", len(s))
		}
	}

	_, _, metrics, err := h.raw(ctx, http.MethodGet, "/metrics", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	audit := auditText(t, h)
	dump := dumpDatabase(t, h)
	if err := h.stop(); err != nil {
		t.Fatalf("Run: %v", err)
	}
	places := map[string]string{
		"logs":     h.logs.String(),
		"errors":   strings.Join(errMsgs, "\n"),
		"metrics":  string(metrics),
		"spans":    spansText(h),
		"database": dump,
		"audit":    audit,
	}
	for place, text := range places {
		if text == "" {
			t.Errorf("%s: nothing captured, so the search proves nothing", place)
		}
		for i, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s contains secret #%d", place, i)
			}
		}
	}
	// The spans must come from every layer, or their search proves little.
	// Each worker passes once as it starts, so each has a span by now.
	for _, name := range []string{
		"ztbroker.v1.TokenBroker/IssueToken", "POST /v1/purposes/", "upstream ",
		"revoker.pass", "sweeper.pass", "reconcile.run",
	} {
		if !strings.Contains(places["spans"], name) {
			t.Errorf("no span named like %q was recorded", name)
		}
	}
	if !strings.Contains(dump, revokedHash) || !strings.Contains(audit, revokedHash) {
		t.Errorf("the token's sha256 %s is missing from the audit trail", revokedHash)
	}
}

func auditText(t *testing.T, h *harness) string {
	t.Helper()
	var b strings.Builder
	req := &ztbrokerv1.ListAuditEventsRequest{}
	for range 100 {
		res, err := h.admin.ListAuditEvents(as(context.Background(), h.keyRoot), req)
		if err != nil {
			t.Fatalf("audit: %v", err)
		}
		for _, e := range res.GetEvents() {
			fmt.Fprintln(&b, e.String())
		}
		if req.PageToken = res.GetNextPageToken(); req.PageToken == "" {
			break
		}
	}
	return b.String()
}

// dumpDatabase renders every row of every public table as text.
func dumpDatabase(t *testing.T, h *harness) string {
	t.Helper()
	ctx := context.Background()
	rows, err := h.db.Query(ctx, `SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	tables, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, table := range tables {
		rows, err := h.db.Query(ctx, `SELECT t::text FROM `+pgx.Identifier{table}.Sanitize()+` t`)
		if err != nil {
			t.Fatal(err)
		}
		lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s\n%s\n", table, strings.Join(lines, "\n"))
	}
	return b.String()
}

func spansText(h *harness) string {
	var b strings.Builder
	for _, s := range h.spans.Ended() {
		fmt.Fprintln(&b, s.Name(), s.Status().Description)
		for _, a := range s.Attributes() {
			fmt.Fprintln(&b, a.Key, a.Value.String())
		}
		for _, e := range s.Events() {
			fmt.Fprintln(&b, e.Name)
			for _, a := range e.Attributes {
				fmt.Fprintln(&b, a.Key, a.Value.String())
			}
		}
	}
	return b.String()
}
