package storetest

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/store"
)

const upstreamName = "new_central"

func startRotation(t *testing.T, s store.Store, mods ...func(*store.StartRotationParams)) *store.Rotation {
	t.Helper()
	p := store.StartRotationParams{
		ID: newID(), Upstream: upstreamName, Account: account, Description: "ztb-admin@x",
		OldKeyID: "old-key", OldSHA256: "old-sha", RequestedBy: "system:rotation", Reason: "due", Now: t0,
		Audit: &store.AuditEvent{Action: "admin_key_rotation_started", ActorKind: "system", ActorSubject: "rotation", Result: "ok"},
	}
	for _, m := range mods {
		m(&p)
	}
	r, err := s.StartRotation(ctx(t), p)
	if err != nil {
		t.Fatalf("StartRotation: %v", err)
	}
	return r
}

func testRotationLifecycle(t *testing.T, newStore NewStore) {
	s := newStore(t)
	c := ctx(t)
	if _, err := s.CurrentCredential(c, store.CurrentCredentialParams{Upstream: upstreamName}); !errors.Is(err, errs.NotFound) {
		t.Fatalf("CurrentCredential before any rotation = %v, want NotFound", err)
	}
	r := startRotation(t, s)
	want := &store.Rotation{
		ID: r.ID, Upstream: upstreamName, State: store.RotationStarted, Account: account, Description: "ztb-admin@x",
		OldKeyID: "old-key", OldSHA256: "old-sha", RequestedBy: "system:rotation", Reason: "due", StartedAt: t0,
	}
	if d := cmp.Diff(want, r); d != "" {
		t.Errorf("started rotation (-want +got):\n%s", d)
	}
	// One open rotation per upstream; another upstream may rotate.
	_, err := s.StartRotation(c, store.StartRotationParams{ID: newID(), Upstream: upstreamName, Now: t0})
	wantErr(t, "second open rotation", err, errs.AlreadyExists)
	startRotation(t, s, func(p *store.StartRotationParams) { p.Upstream = "other" })
	if open, err := s.OpenRotation(c, store.OpenRotationParams{Upstream: upstreamName}); err != nil || open.ID != r.ID {
		t.Errorf("OpenRotation = %v, %v; want %s", open, err, r.ID)
	}
	// Out of order.
	_, err = s.SwitchRotation(c, store.SwitchRotationParams{ID: r.ID, Now: t0})
	wantErr(t, "switch before minted", err, errs.Conflict)
	_, err = s.SwitchRotation(c, store.SwitchRotationParams{ID: newID(), Now: t0})
	wantErr(t, "switch unknown", err, errs.NotFound)

	sealed := []byte("ciphertext")
	r, err = s.RecordRotationKey(c, store.RecordRotationKeyParams{
		ID: r.ID, NewKeyID: "new-key", NewSHA256: "new-sha", Sealed: sealed, Expires: t0.Add(30 * 24 * time.Hour), Now: t0.Add(time.Second),
	})
	if err != nil {
		t.Fatalf("RecordRotationKey: %v", err)
	}
	if r.State != store.RotationMinted || string(r.NewSealed) != "ciphertext" || !r.MintedAt.Equal(t0.Add(time.Second)) {
		t.Errorf("minted rotation %+v", r)
	}
	_, err = s.RecordRotationKey(c, store.RecordRotationKeyParams{ID: r.ID, NewKeyID: "again", Sealed: sealed, Now: t0})
	wantErr(t, "second key", err, errs.Conflict)

	r, err = s.SwitchRotation(c, store.SwitchRotationParams{
		ID: r.ID, ConfigSHA256: "config-sha", RetireAfter: t0.Add(time.Minute), Now: t0.Add(2 * time.Second),
		Audit: &store.AuditEvent{Action: "admin_key_rotated", ActorKind: "system", ActorSubject: "rotation", Result: "ok"},
	})
	if err != nil {
		t.Fatalf("SwitchRotation: %v", err)
	}
	if r.State != store.RotationSwitched || r.NewSealed != nil || !r.RetireAfter.Equal(t0.Add(time.Minute)) {
		t.Errorf("switched rotation %+v: want the sealed key moved out", r)
	}
	cred, err := s.CurrentCredential(c, store.CurrentCredentialParams{Upstream: upstreamName})
	wantCred := &store.UpstreamCredential{Upstream: upstreamName, KeyID: "new-key", Account: account, SHA256: "new-sha",
		ConfigSHA256: "config-sha", Sealed: sealed, Expires: t0.Add(30 * 24 * time.Hour), RotationID: r.ID, UpdatedAt: t0.Add(2 * time.Second)}
	if d := cmp.Diff(wantCred, cred); err != nil || d != "" {
		t.Errorf("CurrentCredential = %v (-want +got):\n%s", err, d)
	}

	r, err = s.FinishRotation(c, store.FinishRotationParams{ID: r.ID, State: store.RotationDone, Now: t0.Add(time.Minute),
		Audit: &store.AuditEvent{Action: "admin_key_retired", ActorKind: "system", ActorSubject: "rotation", Result: "ok"}})
	if err != nil || r.State != store.RotationDone || !r.FinishedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("FinishRotation = %+v, %v", r, err)
	}
	_, err = s.FinishRotation(c, store.FinishRotationParams{ID: r.ID, State: store.RotationFailed, Now: t0})
	wantErr(t, "finish twice", err, errs.Conflict)
	if _, err := s.OpenRotation(c, store.OpenRotationParams{Upstream: upstreamName}); !errors.Is(err, errs.NotFound) {
		t.Errorf("OpenRotation after done = %v, want NotFound", err)
	}
	if got, err := s.GetRotation(c, store.GetRotationParams{ID: r.ID}); err != nil || got.State != store.RotationDone {
		t.Errorf("GetRotation = %+v, %v", got, err)
	}
	// A new rotation may start now.
	next := startRotation(t, s)

	// The trail has start, switch and done, with nothing of the key.
	res, err := s.ListAudit(c, store.ListAuditParams{PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for i := len(res.Events) - 1; i >= 0; i-- {
		actions = append(actions, res.Events[i].Action)
	}
	wantActions := []string{"admin_key_rotation_started", "admin_key_rotation_started", "admin_key_rotated",
		"admin_key_retired", "admin_key_rotation_started"}
	if d := cmp.Diff(wantActions, actions); d != "" {
		t.Errorf("audit actions (-want +got):\n%s", d)
	}

	// The configuration may supersede the stored key, once.
	err = s.DropCredential(c, store.DropCredentialParams{Upstream: upstreamName, KeyID: "some-other-key"})
	wantErr(t, "drop another key", err, errs.NotFound)
	if err := s.DropCredential(c, store.DropCredentialParams{Upstream: upstreamName, KeyID: "new-key"}); err != nil {
		t.Errorf("DropCredential: %v", err)
	}
	if _, err := s.CurrentCredential(c, store.CurrentCredentialParams{Upstream: upstreamName}); !errors.Is(err, errs.NotFound) {
		t.Errorf("CurrentCredential after drop = %v", err)
	}

	// A failed rotation erases its sealed key; done needs a key.
	if _, err := s.RecordRotationKey(c, store.RecordRotationKeyParams{ID: next.ID, NewKeyID: "k", Sealed: sealed, Now: t0}); err != nil {
		t.Fatal(err)
	}
	failed, err := s.FinishRotation(c, store.FinishRotationParams{ID: next.ID, State: store.RotationFailed, Error: "mint refused", Now: t0})
	if err != nil || failed.NewSealed != nil || failed.Error != "mint refused" {
		t.Errorf("failed rotation %+v, %v", failed, err)
	}
	bare := startRotation(t, s)
	_, err = s.FinishRotation(c, store.FinishRotationParams{ID: bare.ID, State: store.RotationDone, Now: t0})
	wantErr(t, "done without a key", err, errs.InvalidArgument)
	_, err = s.FinishRotation(c, store.FinishRotationParams{ID: bare.ID, State: "sideways", Now: t0})
	wantErr(t, "finish in an unknown state", err, errs.InvalidArgument)
}

func testRotationLock(t *testing.T, newStore NewStore) {
	s := newStore(t)
	held := make(chan struct{})
	release := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		ok, err := s.RotationLock(context.Background(), store.RotationLockParams{Upstream: upstreamName}, func(context.Context) error {
			close(held)
			<-release
			return nil
		})
		if !ok || err != nil {
			t.Errorf("first RotationLock = %v, %v", ok, err)
		}
	})
	<-held
	ran := false
	ok, err := s.RotationLock(ctx(t), store.RotationLockParams{Upstream: upstreamName}, func(context.Context) error { ran = true; return nil })
	if ok || err != nil || ran {
		t.Errorf("RotationLock while held = %v, %v (ran %v); want refused at once", ok, err, ran)
	}
	ok, err = s.RotationLock(ctx(t), store.RotationLockParams{Upstream: "other"}, func(context.Context) error { return nil })
	if !ok || err != nil {
		t.Errorf("RotationLock on another upstream = %v, %v", ok, err)
	}
	close(release)
	wg.Wait()
	errFn := errs.Conflict
	ok, err = s.RotationLock(ctx(t), store.RotationLockParams{Upstream: upstreamName}, func(context.Context) error { return errFn })
	if !ok || !errors.Is(err, errFn) {
		t.Errorf("RotationLock after release = %v, %v; want held, fn's error", ok, err)
	}
}

func testSightings(t *testing.T, newStore NewStore) {
	s := newStore(t)
	c := ctx(t)
	ev := &store.AuditEvent{Action: "foreign_credential", ActorKind: "system", ActorSubject: "reconcile", Result: "alarm"}
	p := store.RecordSightingParams{Upstream: upstreamName, Kind: store.SightingKey, Account: account, ID: "k1",
		Created: t0.Add(-time.Hour), Now: t0, Audit: ev}
	for i, want := range []bool{true, false} {
		first, err := s.RecordSighting(c, p)
		if err != nil || first != want {
			t.Errorf("sighting %d: first = %v, %v; want %v", i, first, err, want)
		}
	}
	// The same id elsewhere is another sighting.
	p2 := p
	p2.Account, p2.Created = "acct-2", time.Time{}
	if first, err := s.RecordSighting(c, p2); err != nil || !first {
		t.Errorf("sighting on another account = %v, %v", first, err)
	}
	sa := store.RecordSightingParams{Upstream: upstreamName, Kind: store.SightingServiceAccount, ID: "sa-x", Now: t0}
	if first, err := s.RecordSighting(c, sa); err != nil || !first {
		t.Errorf("service account sighting = %v, %v", first, err)
	}
	_, err := s.RecordSighting(c, store.RecordSightingParams{Upstream: upstreamName, Kind: "network", ID: "n", Now: t0})
	wantErr(t, "unknown kind", err, errs.InvalidArgument)
	for kind, want := range map[string]int{store.SightingKey: 2, store.SightingServiceAccount: 1} {
		if n, err := s.CountSightings(c, store.CountSightingsParams{Upstream: upstreamName, Kind: kind}); err != nil || n != want {
			t.Errorf("CountSightings(%s) = %d, %v; want %d", kind, n, err, want)
		}
	}
	// One event per first sighting.
	res, err := s.ListAudit(c, store.ListAuditParams{Action: "foreign_credential", PageSize: 10})
	if err != nil || len(res.Events) != 2 {
		t.Errorf("audit events = %d, %v; want 2", len(res.Events), err)
	}
}

func testLeasesActiveBetween(t *testing.T, newStore NewStore) {
	s := newStore(t)
	c := ctx(t)
	// Issued at t0, ended at t0+2s.
	ended := revoking(t, s, t0.Add(time.Hour))
	ended, err := s.CompleteRevoke(c, store.CompleteRevokeParams{ID: ended.ID, Now: t0.Add(3 * time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	live := active(t, s, withNow(t0.Add(10*time.Second)), withExpire(t0.Add(time.Hour)))
	later := active(t, s, withNow(t0.Add(time.Hour)), withExpire(t0.Add(2*time.Hour)))
	elsewhere := active(t, s, func(p *store.CreatePendingParams) { p.UpstreamAccount = "acct-2" }, withNow(t0.Add(10*time.Minute)))
	failed := pending(t, s)
	if _, err := s.FailPending(c, store.FailPendingParams{ID: failed.ID, Reason: "mint_failed", Now: t0.Add(time.Second)}); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name     string
		from, to time.Time
		want     []string
	}{
		{"before anything", t0.Add(-time.Hour), t0.Add(-time.Minute), nil},
		{"while the first was live", t0, t0.Add(time.Second), []string{ended.ID}},
		{"after the first ended", t0.Add(20 * time.Second), t0.Add(30 * time.Second), []string{live.ID}},
		{"across all", t0, t0.Add(2 * time.Hour), []string{ended.ID, live.ID, later.ID}},
	} {
		got, err := s.LeasesActiveBetween(c, store.LeasesActiveBetweenParams{
			Upstream: upstream, UpstreamAccount: account, From: tt.from, To: tt.to, Limit: 10,
		})
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if d := cmp.Diff(tt.want, got); d != "" && !(len(tt.want) == 0 && len(got) == 0) {
			t.Errorf("%s (-want +got):\n%s", tt.name, d)
		}
	}
	// Any account of the upstream.
	got, err := s.LeasesActiveBetween(c, store.LeasesActiveBetweenParams{Upstream: upstream, From: t0.Add(5 * time.Minute), To: t0.Add(15 * time.Minute), Limit: 10})
	if d := cmp.Diff([]string{live.ID, elsewhere.ID}, got); err != nil || d != "" {
		t.Errorf("any account = %v (-want +got):\n%s", err, d)
	}
	got, err = s.LeasesActiveBetween(c, store.LeasesActiveBetweenParams{Upstream: upstream, UpstreamAccount: account,
		From: t0, To: t0.Add(2 * time.Hour), Limit: 1})
	if err != nil || len(got) != 1 || got[0] != ended.ID {
		t.Errorf("limited = %v, %v", got, err)
	}
	_, err = s.LeasesActiveBetween(c, store.LeasesActiveBetweenParams{Upstream: upstream, UpstreamAccount: account})
	wantErr(t, "no limit", err, errs.InvalidArgument)
}
