package auditlog_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"go.uber.org/goleak"

	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/store/auditlog"
	"github.com/ztbroker/ztbroker/internal/store/memstore"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func setup(t *testing.T) (*auditlog.Store, *bytes.Buffer) {
	t.Helper()
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	return auditlog.Wrap(memstore.New(), log), &buf
}

func lines(t *testing.T, buf *bytes.Buffer) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range bytes.Split(bytes.TrimSpace(buf.Bytes()), []byte("\n")) {
		if len(l) == 0 {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(l, &m); err != nil {
			t.Fatalf("log line %q: %v", l, err)
		}
		delete(m, "time")
		delete(m, "level")
		out = append(out, m)
	}
	return out
}

func TestLogsCommittedEventsWithLeaseFields(t *testing.T) {
	t.Parallel()
	s, buf := setup(t)
	ctx := t.Context()
	res, err := s.CreatePending(ctx, store.CreatePendingParams{
		ID: "01", Purpose: "netops", Owner: "api_key:a", Now: t0,
		ExpireTime: t0.Add(time.Minute), MaxExpireTime: t0.Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	l := res.Lease
	if _, err := s.Activate(ctx, store.ActivateParams{ID: l.ID, UpstreamTokenID: "k1", TokenSHA256: "abc", Now: t0,
		Audit: &store.AuditEvent{Action: "issue", ActorKind: "api_key", ActorSubject: "a", Result: "ok", TokenSHA256: "abc",
			ActorClaims: map[string]string{"repo": "acme/infra"}},
	}); err != nil {
		t.Fatal(err)
	}
	// Revoke by id: the caller does not know the purpose.
	if _, _, err := s.BeginRevoke(ctx, store.BeginRevokeParams{ID: l.ID, Now: t0, ClaimUntil: t0.Add(time.Minute),
		Audit: &store.AuditEvent{Action: "revoke", ActorKind: "api_key", ActorSubject: "a", Result: "ok"},
	}); err != nil {
		t.Fatal(err)
	}
	// A second revoke changes nothing and must log nothing.
	if _, already, err := s.BeginRevoke(ctx, store.BeginRevokeParams{ID: l.ID, Now: t0, ClaimUntil: t0.Add(time.Minute),
		Audit: &store.AuditEvent{Action: "revoke", ActorKind: "api_key", ActorSubject: "a", Result: "ok"},
	}); err != nil || !already {
		t.Fatalf("second BeginRevoke: already=%t err=%v", already, err)
	}
	want := []map[string]any{
		{"msg": "audit", "action": "issue", "actor_kind": "api_key", "actor_subject": "a", "purpose": "netops",
			"lease_id": "01", "result": "ok", "token_sha256": "abc", "actor_claims": map[string]any{"repo": "acme/infra"}},
		{"msg": "audit", "action": "revoke", "actor_kind": "api_key", "actor_subject": "a", "purpose": "netops",
			"lease_id": "01", "result": "ok"},
	}
	if diff := cmp.Diff(want, lines(t, buf)); diff != "" {
		t.Errorf("audit log lines (-want +got):\n%s", diff)
	}
}

// A replayed idempotency key writes no audit event, so it must log none,
// though the event is in the params and the call succeeds.
func TestReplayedCreateLogsNothing(t *testing.T) {
	t.Parallel()
	s, buf := setup(t)
	p := store.CreatePendingParams{
		ID: "01", Purpose: "netops", Owner: "api_key:a", Now: t0,
		ExpireTime: t0.Add(time.Minute), MaxExpireTime: t0.Add(time.Hour), IdempotencyKey: "k",
		Audit: &store.AuditEvent{Action: "create", ActorKind: "api_key", ActorSubject: "a", Result: "ok"},
	}
	if _, err := s.CreatePending(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	p.ID = "02"
	res, err := s.CreatePending(t.Context(), p)
	if err != nil || !res.Existing {
		t.Fatalf("replayed CreatePending = %+v, %v; want an existing lease", res, err)
	}
	want := []map[string]any{
		{"msg": "audit", "action": "create", "actor_kind": "api_key", "actor_subject": "a", "purpose": "netops",
			"lease_id": "01", "result": "ok"},
	}
	if diff := cmp.Diff(want, lines(t, buf)); diff != "" {
		t.Errorf("audit log lines (-want +got):\n%s", diff)
	}
}

func TestFailedWriteLogsNothing(t *testing.T) {
	t.Parallel()
	s, buf := setup(t)
	_, err := s.Activate(t.Context(), store.ActivateParams{ID: "missing", Now: t0,
		Audit: &store.AuditEvent{Action: "issue", Result: "ok"}})
	if err == nil {
		t.Fatal("Activate of a missing lease succeeded")
	}
	if got := lines(t, buf); len(got) != 0 {
		t.Errorf("logged %v for a write that failed", got)
	}
}
