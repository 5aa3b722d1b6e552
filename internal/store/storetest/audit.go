package storetest

import (
	"encoding/base64"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

func testAuditList(t *testing.T, newStore NewStore) {
	s := newStore(t)
	events := []*store.AuditEvent{
		{Time: t0, Action: "issue", ActorKind: "user", ActorSubject: "alice",
			ActorClaims: map[string]string{"iss": "https://idp", "aud": "ztb"},
			Purpose:     purpose, LeaseID: "l1", Result: "ok", TokenSHA256: lease.HashToken("a")},
		{Time: t0.Add(time.Minute), Action: "issue", ActorKind: "user", ActorSubject: "bob",
			Purpose: "backup", LeaseID: "l2", Result: "denied", Reason: "quota", Upstream: "staging"},
		{Time: t0.Add(2 * time.Minute), Action: "revoke", ActorKind: "user", ActorSubject: "alice",
			Purpose: purpose, LeaseID: "l1", Result: "ok"},
		{Time: t0.Add(3 * time.Minute), Action: "revoke", ActorKind: "service", ActorSubject: "alice",
			Purpose: purpose, LeaseID: "l3", Result: "ok", Upstream: "prod"},
	}
	var prev int64
	for _, e := range events {
		if err := s.AppendAudit(ctx(t), e); err != nil {
			t.Fatalf("AppendAudit: %v", err)
		}
		if e.ID <= prev {
			t.Errorf("AppendAudit gave id %d after %d; ids must increase", e.ID, prev)
		}
		prev = e.ID
	}
	e0, e1, e2, e3 := events[0], events[1], events[2], events[3]

	tests := []struct {
		name string
		p    store.ListAuditParams
		want []*store.AuditEvent
	}{
		{"all", store.ListAuditParams{}, []*store.AuditEvent{e3, e2, e1, e0}},
		{"purpose", store.ListAuditParams{Purpose: "backup"}, []*store.AuditEvent{e1}},
		{"lease", store.ListAuditParams{LeaseID: "l1"}, []*store.AuditEvent{e2, e0}},
		{"actor", store.ListAuditParams{Actor: "user:alice"}, []*store.AuditEvent{e2, e0}},
		{"action", store.ListAuditParams{Action: "revoke"}, []*store.AuditEvent{e3, e2}},
		{"since", store.ListAuditParams{Since: t0.Add(2 * time.Minute)}, []*store.AuditEvent{e3, e2}},
		{"upstream", store.ListAuditParams{Upstream: "prod"}, []*store.AuditEvent{e3}},
		{"upstream and action", store.ListAuditParams{Upstream: "staging", Action: "revoke"}, nil},
		{"combined", store.ListAuditParams{Actor: "user:alice", Action: "issue"}, []*store.AuditEvent{e0}},
		{"no match", store.ListAuditParams{Actor: "user:nobody"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.p.PageSize = 10
			res, err := s.ListAudit(ctx(t), tt.p)
			if err != nil {
				t.Fatalf("ListAudit: %v", err)
			}
			if d := cmp.Diff(tt.want, res.Events, leaseCmp); d != "" {
				t.Errorf("ListAudit(%+v) (-want +got):\n%s", tt.p, d)
			}
			if res.Next != "" {
				t.Errorf("ListAudit(%+v) has a next page", tt.p)
			}
		})
	}

	var got []*store.AuditEvent
	p := store.ListAuditParams{PageSize: 3}
	for range 3 {
		res, err := s.ListAudit(ctx(t), p)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, res.Events...)
		if res.Next == "" {
			break
		}
		p.After = res.Next
	}
	if d := cmp.Diff([]*store.AuditEvent{e3, e2, e1, e0}, got, leaseCmp); d != "" {
		t.Errorf("paged audit (-want +got):\n%s", d)
	}

	for _, p := range []store.ListAuditParams{
		{PageSize: 0},
		{PageSize: 1, After: "%%%"},
		{PageSize: 1, After: base64.RawURLEncoding.EncodeToString([]byte("not a number"))},
		{PageSize: 1, Actor: "no-colon"},
	} {
		_, err := s.ListAudit(ctx(t), p)
		wantErr(t, "ListAudit with bad params", err, errs.InvalidArgument)
	}
}

// testAuditWithStateChanges checks that audit events passed with a state
// change are written exactly when the change is.
func testAuditWithStateChanges(t *testing.T, newStore NewStore) {
	s := newStore(t)
	ev := func(action string) *store.AuditEvent {
		return &store.AuditEvent{Action: action, ActorKind: "user", ActorSubject: "alice", Result: "ok"}
	}
	id := newID()
	now := t0.Add(time.Minute)
	steps := []struct {
		action string
		run    func(a *store.AuditEvent) error
		// wrote is whether the change happens and so its event is
		// written; BeginRevoke of an ended lease is the one no-op that
		// is not an error.
		wrote   bool
		wantErr bool
	}{
		{"create", func(a *store.AuditEvent) error {
			_, err := create(t, s, func(p *store.CreatePendingParams) { p.ID, p.Audit = id, a })
			return err
		}, true, false},
		{"activate", func(a *store.AuditEvent) error {
			_, err := s.Activate(ctx(t), store.ActivateParams{ID: id, Now: now, Audit: a})
			return err
		}, true, false},
		{"activate again", func(a *store.AuditEvent) error {
			_, err := s.Activate(ctx(t), store.ActivateParams{ID: id, Now: now, Audit: a})
			return err
		}, false, true},
		{"renew", func(a *store.AuditEvent) error {
			_, err := s.RenewLease(ctx(t), store.RenewLeaseParams{ID: id, ExpireTime: t0.Add(time.Hour), Now: now, Audit: a})
			return err
		}, true, false},
		{"renew past max", func(a *store.AuditEvent) error {
			_, err := s.RenewLease(ctx(t), store.RenewLeaseParams{ID: id, ExpireTime: t0.Add(5 * time.Hour), Now: now, Audit: a})
			return err
		}, false, true},
		{"begin revoke", func(a *store.AuditEvent) error {
			_, _, err := s.BeginRevoke(ctx(t), store.BeginRevokeParams{ID: id, Now: now, ClaimUntil: now, Audit: a})
			return err
		}, true, false},
		{"begin revoke again", func(a *store.AuditEvent) error {
			_, _, err := s.BeginRevoke(ctx(t), store.BeginRevokeParams{ID: id, Now: now, ClaimUntil: now, Audit: a})
			return err
		}, false, false},
		{"revoke failure", func(a *store.AuditEvent) error {
			_, err := s.RecordRevokeFailure(ctx(t), store.RecordRevokeFailureParams{ID: id, NextAttemptAt: now, Now: now, Audit: a})
			return err
		}, true, false},
		{"complete revoke", func(a *store.AuditEvent) error {
			_, err := s.CompleteRevoke(ctx(t), store.CompleteRevokeParams{ID: id, Now: now, Audit: a})
			return err
		}, true, false},
		{"forget revoked", func(a *store.AuditEvent) error {
			_, err := s.ForgetLease(ctx(t), store.ForgetLeaseParams{ID: id, Now: now, Audit: a})
			return err
		}, false, true},
	}
	var want []string
	for _, st := range steps {
		err := st.run(ev(st.action))
		if (err != nil) != st.wantErr {
			t.Fatalf("%s: error = %v, want error: %v", st.action, err, st.wantErr)
		}
		if st.wrote {
			want = append([]string{st.action}, want...)
		}
	}

	fail := newID()
	if _, err := create(t, s, func(p *store.CreatePendingParams) { p.ID = fail }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.FailPending(ctx(t), store.FailPendingParams{ID: fail, Now: now, Audit: ev("fail")}); err != nil {
		t.Fatal(err)
	}
	want = append([]string{"fail"}, want...)

	res, err := s.ListAudit(ctx(t), store.ListAuditParams{PageSize: 50})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range res.Events {
		got = append(got, e.Action)
		if e.Time.IsZero() {
			t.Errorf("event %s has no time; it should default to the operation's Now", e.Action)
		}
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("audit actions, newest first (-want +got):\n%s", d)
	}
}

// testAuditTakesLeaseFields: callers that know only a lease id (a revoke
// by id) leave the purpose empty; the event must still name it.
func testAuditTakesLeaseFields(t *testing.T, newStore NewStore) {
	s := newStore(t)
	l := active(t, s, withPurpose("netops"))
	now := t0.Add(time.Minute)
	if _, _, err := s.BeginRevoke(ctx(t), store.BeginRevokeParams{
		ID: l.ID, Reason: "done", RevokedBy: "api_key:a", Now: now, ClaimUntil: now.Add(time.Minute),
		Audit: &store.AuditEvent{Action: "revoke", ActorKind: "api_key", ActorSubject: "a", Result: "ok"},
	}); err != nil {
		t.Fatalf("BeginRevoke: %v", err)
	}
	res, err := s.ListAudit(ctx(t), store.ListAuditParams{Action: "revoke", PageSize: 10})
	if err != nil {
		t.Fatalf("ListAudit: %v", err)
	}
	if len(res.Events) != 1 {
		t.Fatalf("ListAudit returned %d revoke events, want 1", len(res.Events))
	}
	if e := res.Events[0]; e.Purpose != "netops" || e.LeaseID != l.ID {
		t.Errorf("event purpose, lease = %q, %q; want %q, %q", e.Purpose, e.LeaseID, "netops", l.ID)
	}
}

func testAuditBatch(t *testing.T, newStore NewStore) {
	s := newStore(t)
	if err := s.AppendAudits(ctx(t), nil); err != nil {
		t.Fatalf("empty batch: %v", err)
	}
	first := &store.AuditEvent{Time: t0, Action: "before", Result: "ok"}
	if err := s.AppendAudit(ctx(t), first); err != nil {
		t.Fatal(err)
	}
	batch := []*store.AuditEvent{
		{Time: t0.Add(time.Second), Action: "proxy_call", ActorKind: "api_key", ActorSubject: "ci",
			ActorClaims: map[string]string{"run": "7"}, Purpose: purpose, LeaseID: "l1", Result: "ok",
			Reason: "POST /api/v2/network/{network} status=200", TokenSHA256: lease.HashToken("c")},
		{Time: t0.Add(2 * time.Second), Action: "proxy_read", Purpose: purpose, LeaseID: "l1", Result: "ok"},
		{Time: t0.Add(time.Second), Action: "proxy_deny", Purpose: "other", LeaseID: "l2", Result: "denied"},
	}
	if err := s.AppendAudits(ctx(t), batch); err != nil {
		t.Fatalf("AppendAudits: %v", err)
	}
	prev := first.ID
	for i, e := range batch {
		if e.ID <= prev {
			t.Errorf("event %d got id %d after %d; ids must follow the batch's order", i, e.ID, prev)
		}
		prev = e.ID
	}
	res, err := s.ListAudit(ctx(t), store.ListAuditParams{PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	want := []*store.AuditEvent{batch[2], batch[1], batch[0], first}
	if d := cmp.Diff(want, res.Events, leaseCmp); d != "" {
		t.Errorf("ListAudit after a batch (-want +got):\n%s", d)
	}
}
