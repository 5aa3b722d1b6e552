package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

func testCreatePending(t *testing.T, newStore NewStore) {
	s := newStore(t)
	id := newID()
	p := store.CreatePendingParams{
		ID:              id,
		Purpose:         purpose,
		Owner:           owner,
		Labels:          map[string]string{"team": "net", "env": "prod"},
		Upstream:        "prod",
		UpstreamKind:    upstream,
		UpstreamAccount: account,
		UpstreamName:    "ztb-deploy-" + id,
		Now:             t0,
		ExpireTime:      t0.Add(time.Hour),
		MaxExpireTime:   t0.Add(4 * time.Hour),
		IdempotencyKey:  "k1",
		AdmittedBy:      "infra-main",
		GrantedMaxTTL:   4 * time.Hour,
		RequestedTTL:    time.Hour,
		OwnerClaims:     map[string]string{"sub": "repo:acme/infra", "job_workflow_ref": "acme/infra/.github/workflows/a.yml@refs/heads/main"},
		Audit:           &store.AuditEvent{Action: "issue", ActorKind: "api_key", ActorSubject: "ci", Result: "ok"},
	}
	res, err := s.CreatePending(ctx(t), p)
	if err != nil {
		t.Fatalf("CreatePending: %v", err)
	}
	if res.Existing {
		t.Errorf("CreatePending of a new lease says it found an existing one")
	}
	want := &lease.Lease{
		ID: id, Purpose: purpose, Owner: owner, State: lease.StatePending,
		Labels:   map[string]string{"team": "net", "env": "prod"},
		Delivery: lease.DeliveryToken,
		Upstream: "prod", UpstreamKind: upstream, UpstreamAccount: account, UpstreamName: "ztb-deploy-" + id,
		IssueTime: t0, ExpireTime: t0.Add(time.Hour), MaxExpireTime: t0.Add(4 * time.Hour),
		IdempotencyKey: "k1", CreatedAt: t0, UpdatedAt: t0,
		AdmittedBy: "infra-main", GrantedMaxTTL: 4 * time.Hour, RequestedTTL: time.Hour,
		OwnerClaims: map[string]string{"sub": "repo:acme/infra", "job_workflow_ref": "acme/infra/.github/workflows/a.yml@refs/heads/main"},
	}
	diffLease(t, "CreatePending result", res.Lease, want)
	diffLease(t, "GetLease after CreatePending", get(t, s, id), want)
	// The lease's audit event names its upstream, taken from the lease.
	if ev, err := s.ListAudit(ctx(t), store.ListAuditParams{LeaseID: id, PageSize: 10}); err != nil || len(ev.Events) != 1 || ev.Events[0].Upstream != "prod" {
		t.Errorf("audit of CreatePending = %+v, %v; want one event of upstream prod", ev, err)
	}

	// The store keeps its own copy of the labels and owner claims.
	p.Labels["team"] = "changed"
	p.OwnerClaims["sub"] = "changed"
	diffLease(t, "GetLease after caller mutates labels", get(t, s, id), want)

	t.Run("duplicate id", func(t *testing.T) {
		p := p
		p.IdempotencyKey = ""
		res, err := s.CreatePending(ctx(t), p)
		wantErr(t, "CreatePending with a used id", err, errs.AlreadyExists)
		if res != nil {
			t.Errorf("CreatePending with a used id returned %+v beside its error", res)
		}
	})
	t.Run("expire after max", func(t *testing.T) {
		p := p
		p.ID, p.IdempotencyKey = newID(), ""
		p.ExpireTime = p.MaxExpireTime.Add(time.Second)
		_, err := s.CreatePending(ctx(t), p)
		wantErr(t, "CreatePending past max", err, errs.InvalidArgument)
	})
	t.Run("nanoseconds are dropped", func(t *testing.T) {
		l := pending(t, s, withNow(t0.Add(999)), withExpire(t0.Add(time.Hour+1)))
		if !l.CreatedAt.Equal(t0) || !l.ExpireTime.Equal(t0.Add(time.Hour)) {
			t.Errorf("created %v expire %v, want microsecond-truncated %v and %v",
				l.CreatedAt, l.ExpireTime, t0, t0.Add(time.Hour))
		}
	})
	t.Run("missing lease", func(t *testing.T) {
		_, err := s.GetLease(ctx(t), store.GetLeaseParams{ID: newID()})
		wantErr(t, "GetLease of unknown id", err, errs.NotFound)
	})
}

func testIdempotency(t *testing.T, newStore NewStore) {
	s := newStore(t)
	key := func(k string) func(*store.CreatePendingParams) {
		return func(p *store.CreatePendingParams) { p.IdempotencyKey = k }
	}
	first := pending(t, s, key("k"))

	again := store.CreatePendingParams{
		ID: newID(), Purpose: purpose, Owner: owner, Upstream: upstream, UpstreamAccount: account,
		Now: t0.Add(time.Minute), ExpireTime: t0.Add(time.Hour), MaxExpireTime: t0.Add(2 * time.Hour),
		IdempotencyKey: "k",
		Quota:          &store.Quota{MaxActivePerPurpose: 1},
		Audit:          &store.AuditEvent{Action: "issue"},
	}
	for _, withQuota := range []bool{false, true} {
		p := again
		if !withQuota {
			p.Quota = nil
		}
		// A replay is an outcome, not an error, and holds even when the
		// quota is full.
		got, err := s.CreatePending(ctx(t), p)
		if err != nil || !got.Existing {
			t.Fatalf("CreatePending with a reused key (quota %v) = %+v, %v; want the existing lease", withQuota, got, err)
		}
		diffLease(t, "lease returned for a reused key", got.Lease, first)
		if _, err := s.GetLease(ctx(t), store.GetLeaseParams{ID: p.ID}); err == nil {
			t.Errorf("a reused key (quota %v) wrote lease %s", withQuota, p.ID)
		}
	}
	audit, err := s.ListAudit(ctx(t), store.ListAuditParams{PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(audit.Events) != 0 {
		t.Errorf("a reused key wrote %d audit events, want 0", len(audit.Events))
	}

	// The key is scoped to the owner alone: the same owner's key for
	// another purpose finds the first lease, which the caller then
	// refuses to replay. Another owner's key and no key never collide.
	for _, withQuota := range []bool{false, true} {
		p := again
		p.ID, p.Purpose = newID(), "other"
		if !withQuota {
			p.Quota = nil
		}
		got, err := s.CreatePending(ctx(t), p)
		if err != nil || !got.Existing || got.Lease.ID != first.ID {
			t.Fatalf("CreatePending with the key under another purpose (quota %v) = %+v, %v; want lease %s", withQuota, got, err, first.ID)
		}
	}
	pending(t, s, key("k"), withOwner("user:bob"))
	pending(t, s)
	pending(t, s)
}

func testActivateAndFail(t *testing.T, newStore NewStore) {
	s := newStore(t)
	l := pending(t, s)
	now := t0.Add(3 * time.Second)
	got, err := s.Activate(ctx(t), store.ActivateParams{
		ID: l.ID, UpstreamTokenID: "key-1", TokenSHA256: lease.HashToken("s"),
		UpstreamExpireTime: t0.Add(5 * time.Hour), Now: now,
	})
	if err != nil {
		t.Fatalf("Activate: %v", err)
	}
	want := *l
	want.State = lease.StateActive
	want.UpstreamTokenID = "key-1"
	want.TokenSHA256 = lease.HashToken("s")
	want.UpstreamExpireTime = t0.Add(5 * time.Hour)
	want.IssueTime = now
	want.UpdatedAt = now
	diffLease(t, "Activate result", got, &want)
	diffLease(t, "GetLease after Activate", get(t, s, l.ID), &want)

	_, err = s.Activate(ctx(t), store.ActivateParams{ID: l.ID, Now: now})
	wantErr(t, "Activate of an active lease", err, errs.Conflict)
	_, err = s.FailPending(ctx(t), store.FailPendingParams{ID: l.ID, Reason: "x", Now: now})
	wantErr(t, "FailPending of an active lease", err, errs.Conflict)
	_, err = s.Activate(ctx(t), store.ActivateParams{ID: newID(), Now: now})
	wantErr(t, "Activate of an unknown lease", err, errs.NotFound)
	_, err = s.FailPending(ctx(t), store.FailPendingParams{ID: newID(), Now: now})
	wantErr(t, "FailPending of an unknown lease", err, errs.NotFound)

	p := pending(t, s)
	failed, err := s.FailPending(ctx(t), store.FailPendingParams{ID: p.ID, Reason: lease.ReasonMintFailed, Now: now})
	if err != nil {
		t.Fatalf("FailPending: %v", err)
	}
	wantFailed := *p
	wantFailed.State = lease.StateFailed
	wantFailed.RevokeReason = lease.ReasonMintFailed
	wantFailed.RevokeTime = now
	wantFailed.UpdatedAt = now
	diffLease(t, "FailPending result", failed, &wantFailed)
	_, err = s.Activate(ctx(t), store.ActivateParams{ID: p.ID, Now: now})
	wantErr(t, "Activate of a failed lease", err, errs.Conflict)
}

func testOwnerIsolation(t *testing.T, newStore NewStore) {
	s := newStore(t)
	l := active(t, s)
	if _, err := s.GetLease(ctx(t), store.GetLeaseParams{ID: l.ID, Owner: owner}); err != nil {
		t.Errorf("GetLease by its owner: %v", err)
	}
	_, err := s.GetLease(ctx(t), store.GetLeaseParams{ID: l.ID, Owner: "user:mallory"})
	wantErr(t, "GetLease by another owner", err, errs.NotFound)
	_, err = s.RenewLease(ctx(t), store.RenewLeaseParams{ID: l.ID, Owner: "user:mallory", ExpireTime: t0.Add(2 * time.Hour), Now: t0})
	wantErr(t, "RenewLease by another owner", err, errs.NotFound)
	_, _, err = s.BeginRevoke(ctx(t), store.BeginRevokeParams{ID: l.ID, Owner: "user:mallory", Now: t0, ClaimUntil: t0})
	wantErr(t, "BeginRevoke by another owner", err, errs.NotFound)
	diffLease(t, "lease after another owner's attempts", get(t, s, l.ID), l)

	res, err := s.ListLeases(ctx(t), store.ListLeasesParams{Owner: "user:mallory", PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Leases) != 0 {
		t.Errorf("another owner lists %v", ids(res.Leases))
	}
}

func testRenew(t *testing.T, newStore NewStore) {
	s := newStore(t)
	l := active(t, s)
	now := t0.Add(time.Minute)
	got, err := s.RenewLease(ctx(t), store.RenewLeaseParams{ID: l.ID, Owner: owner, ExpireTime: l.MaxExpireTime, Now: now})
	if err != nil {
		t.Fatalf("RenewLease up to max: %v", err)
	}
	want := *l
	want.ExpireTime = l.MaxExpireTime
	want.UpdatedAt = now
	diffLease(t, "RenewLease result", got, &want)

	_, err = s.RenewLease(ctx(t), store.RenewLeaseParams{ID: l.ID, ExpireTime: l.MaxExpireTime.Add(time.Microsecond), Now: now})
	wantErr(t, "RenewLease past max", err, errs.InvalidArgument)
	diffLease(t, "lease after refused renew", get(t, s, l.ID), &want)

	for _, l := range []*lease.Lease{pending(t, s), revoking(t, s, t0)} {
		_, err := s.RenewLease(ctx(t), store.RenewLeaseParams{ID: l.ID, ExpireTime: t0.Add(time.Hour), Now: now})
		wantErr(t, "RenewLease of a "+string(l.State)+" lease", err, errs.FailedPrecondition)
	}
	_, err = s.RenewLease(ctx(t), store.RenewLeaseParams{ID: newID(), ExpireTime: t0, Now: now})
	wantErr(t, "RenewLease of an unknown lease", err, errs.NotFound)

	// A lease past its expiry is the revoker's, even before it is claimed:
	// renewing it would resurrect a lease whose end was already due.
	_, err = s.RenewLease(ctx(t), store.RenewLeaseParams{ID: l.ID, ExpireTime: l.MaxExpireTime, Now: want.ExpireTime})
	wantErr(t, "RenewLease at its expire time", err, errs.FailedPrecondition)
	diffLease(t, "lease after renew at expiry", get(t, s, l.ID), &want)
}

func testBeginRevoke(t *testing.T, newStore NewStore) {
	s := newStore(t)
	l := active(t, s)
	now, until := t0.Add(time.Minute), t0.Add(2*time.Minute)
	got, already, err := s.BeginRevoke(ctx(t), store.BeginRevokeParams{
		ID: l.ID, Owner: owner, Reason: "done", RevokedBy: owner, Now: now, ClaimUntil: until,
	})
	if err != nil || already {
		t.Fatalf("BeginRevoke = already %v, %v; want false, nil", already, err)
	}
	want := *l
	want.State = lease.StateRevoking
	want.RevokeReason = "done"
	want.RevokedBy = owner
	want.RevokeTime = now
	want.NextAttemptAt = until
	want.UpdatedAt = now
	diffLease(t, "BeginRevoke result", got, &want)

	// Revoking again, by anyone, changes nothing.
	again, already, err := s.BeginRevoke(ctx(t), store.BeginRevokeParams{
		ID: l.ID, Reason: "again", RevokedBy: "admin:root", Now: now.Add(time.Hour), ClaimUntil: now.Add(2 * time.Hour),
	})
	if err != nil || !already {
		t.Fatalf("second BeginRevoke = already %v, %v; want true, nil", already, err)
	}
	diffLease(t, "second BeginRevoke result", again, &want)

	if _, err := s.CompleteRevoke(ctx(t), store.CompleteRevokeParams{ID: l.ID, Now: now}); err != nil {
		t.Fatal(err)
	}
	done, already, err := s.BeginRevoke(ctx(t), store.BeginRevokeParams{ID: l.ID, Owner: owner, Now: now, ClaimUntil: until})
	if err != nil || !already || done.State != lease.StateRevoked {
		t.Errorf("BeginRevoke of a revoked lease = %v, already %v, %v; want revoked, true, nil", done.State, already, err)
	}

	_, _, err = s.BeginRevoke(ctx(t), store.BeginRevokeParams{ID: pending(t, s).ID, Now: now, ClaimUntil: until})
	wantErr(t, "BeginRevoke of a pending lease", err, errs.FailedPrecondition)
	_, _, err = s.BeginRevoke(ctx(t), store.BeginRevokeParams{ID: newID(), Now: now, ClaimUntil: until})
	wantErr(t, "BeginRevoke of an unknown lease", err, errs.NotFound)
}

func testCompleteRevoke(t *testing.T, newStore NewStore) {
	s := newStore(t)
	now := t0.Add(time.Hour)
	r := revoking(t, s, t0)
	got, err := s.CompleteRevoke(ctx(t), store.CompleteRevokeParams{ID: r.ID, Now: now})
	if err != nil {
		t.Fatalf("CompleteRevoke: %v", err)
	}
	want := *r
	want.State = lease.StateRevoked
	want.NextAttemptAt = time.Time{}
	want.UpdatedAt = now
	diffLease(t, "CompleteRevoke result", got, &want)

	f := revoking(t, s, t0)
	if _, err := s.RecordRevokeFailure(ctx(t), store.RecordRevokeFailureParams{
		ID: f.ID, Err: "boom", NextAttemptAt: now, MarkFailed: true, Now: now,
	}); err != nil {
		t.Fatal(err)
	}
	got, err = s.CompleteRevoke(ctx(t), store.CompleteRevokeParams{ID: f.ID, Now: now})
	if err != nil || got.State != lease.StateRevoked {
		t.Errorf("CompleteRevoke of revoke_failed = %v, %v; want revoked", got, err)
	}

	for _, l := range []*lease.Lease{active(t, s), pending(t, s), get(t, s, r.ID)} {
		_, err := s.CompleteRevoke(ctx(t), store.CompleteRevokeParams{ID: l.ID, Now: now})
		wantErr(t, "CompleteRevoke of a "+string(l.State)+" lease", err, errs.Conflict)
	}
	_, err = s.CompleteRevoke(ctx(t), store.CompleteRevokeParams{ID: newID(), Now: now})
	wantErr(t, "CompleteRevoke of an unknown lease", err, errs.NotFound)
}

func testRecordRevokeFailure(t *testing.T, newStore NewStore) {
	s := newStore(t)
	r := revoking(t, s, t0)
	steps := []struct {
		markFailed bool
		wantState  lease.State
	}{
		{false, lease.StateRevoking},
		{true, lease.StateRevokeFailed},
		{false, lease.StateRevokeFailed},
	}
	for i, st := range steps {
		now := t0.Add(time.Duration(i+1) * time.Minute)
		got, err := s.RecordRevokeFailure(ctx(t), store.RecordRevokeFailureParams{
			ID: r.ID, Err: "upstream 503", NextAttemptAt: now.Add(time.Minute), MarkFailed: st.markFailed, Now: now,
		})
		if err != nil {
			t.Fatalf("RecordRevokeFailure %d: %v", i, err)
		}
		want := *r
		want.State = st.wantState
		want.RevokeAttempts = i + 1
		want.LastError = "upstream 503"
		want.NextAttemptAt = now.Add(time.Minute)
		want.UpdatedAt = now
		diffLease(t, "RecordRevokeFailure result", got, &want)
	}
	for _, l := range []*lease.Lease{active(t, s), pending(t, s)} {
		_, err := s.RecordRevokeFailure(ctx(t), store.RecordRevokeFailureParams{ID: l.ID, Now: t0, NextAttemptAt: t0})
		wantErr(t, "RecordRevokeFailure of a "+string(l.State)+" lease", err, errs.Conflict)
	}
	_, err := s.RecordRevokeFailure(ctx(t), store.RecordRevokeFailureParams{ID: newID(), Now: t0, NextAttemptAt: t0})
	wantErr(t, "RecordRevokeFailure of an unknown lease", err, errs.NotFound)
}

func testForget(t *testing.T, newStore NewStore) {
	s := newStore(t)
	now := t0.Add(time.Hour)
	for _, markFailed := range []bool{false, true} {
		r := revoking(t, s, t0)
		r, err := s.RecordRevokeFailure(ctx(t), store.RecordRevokeFailureParams{
			ID: r.ID, Err: "gone", NextAttemptAt: now, MarkFailed: markFailed, Now: t0,
		})
		if err != nil {
			t.Fatal(err)
		}
		got, err := s.ForgetLease(ctx(t), store.ForgetLeaseParams{
			ID: r.ID, Reason: lease.ReasonForgotten, RevokedBy: "admin:ops", Now: now,
		})
		if err != nil {
			t.Fatalf("ForgetLease of %s: %v", r.State, err)
		}
		want := *r
		want.State = lease.StateRevoked
		want.RevokeReason = lease.ReasonForgotten
		want.RevokedBy = "admin:ops"
		want.NextAttemptAt = time.Time{}
		want.UpdatedAt = now
		diffLease(t, "ForgetLease result", got, &want)
	}
	failed := pending(t, s)
	if _, err := s.FailPending(ctx(t), store.FailPendingParams{ID: failed.ID, Now: t0}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{active(t, s).ID, pending(t, s).ID, failed.ID} {
		_, err := s.ForgetLease(ctx(t), store.ForgetLeaseParams{ID: id, Now: now})
		wantErr(t, "ForgetLease of a "+string(get(t, s, id).State)+" lease", err, errs.FailedPrecondition)
	}
	_, err := s.ForgetLease(ctx(t), store.ForgetLeaseParams{ID: newID(), Now: now})
	wantErr(t, "ForgetLease of an unknown lease", err, errs.NotFound)
}

func sortedIDs(ls ...*lease.Lease) []string {
	out := ids(ls)
	slices.Sort(out)
	return out
}
