package auditlog_test

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/store"
)

// TestLogsPartitionDrops: a dropped month's event is appended by the
// store, not passed in, and is still logged like every committed event.
func TestLogsPartitionDrops(t *testing.T) {
	t.Parallel()
	s, buf := setup(t)
	ctx := t.Context()
	old := time.Date(2020, 5, 6, 0, 0, 0, 0, time.UTC)
	if err := s.AppendAudit(ctx, &store.AuditEvent{Time: old, Action: "issue", Result: "ok"}); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	now := time.Now()
	res, err := s.MaintainAuditPartitions(ctx, store.MaintainAuditParams{Now: now, Ahead: 2, KeepSince: now.AddDate(-1, 0, 0)})
	if err != nil || len(res.Dropped) != 1 {
		t.Fatalf("MaintainAuditPartitions = %+v, %v; want one month dropped", res, err)
	}
	want := []map[string]any{{
		"msg": "audit", "action": store.ActionAuditPartitionDrop, "actor_kind": "system", "actor_subject": "retention",
		"purpose": "", "lease_id": "", "result": "ok",
		"reason": "dropped partition audit_events_2020_05 holding 1 events from [2020-05-01T00:00:00Z, 2020-06-01T00:00:00Z)",
	}}
	if d := cmp.Diff(want, lines(t, buf)); d != "" {
		t.Errorf("log lines (-want +got):\n%s", d)
	}
}
