package adminkey_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/worker/adminkey"
	"github.com/ztbroker/ztbroker/internal/worker/workertest"
)

// TestRotateOnDemand follows a rotation from the request to the old key's
// deletion, with a second replica taking up the new key on its own.
func TestRotateOnDemand(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	if err := b.k.Init(ctx); err != nil {
		t.Fatal(err)
	}
	other := b.newReplica(t, b.emu.AdminToken, nil)
	if err := other.k.Init(ctx); err != nil {
		t.Fatal(err)
	}
	oldSecret, oldID := b.emu.AdminToken, b.emu.AdminKeyID()

	r, err := b.k.Rotate(ctx, name, "api_key:ops", "leaked in a log")
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if r.State != store.RotationSwitched || r.OldKeyID != oldID || r.NewKeyID == "" ||
		!r.RetireAfter.Equal(b.clock.Now().Add(2*time.Minute)) {
		t.Fatalf("rotation %+v", r)
	}
	// This replica uses the new key at once; the old one still works for
	// the replicas that have not switched.
	info := b.cred.Info()
	if b.secret() == oldSecret || info.KeyID != r.NewKeyID || info.Source != upstream.SourceRotated ||
		!info.Expires.Equal(b.clock.Now().Add(30*24*time.Hour).Truncate(time.Second)) {
		t.Errorf("credential after the switch: %+v", info)
	}
	if !b.works(t, b.secret()) || !b.works(t, oldSecret) {
		t.Error("both keys must work during the grace period")
	}
	if !b.cred.IsProtected(oldID) || !b.cred.IsProtected(r.NewKeyID) {
		t.Error("the rotation's keys are not protected")
	}
	// A second request while one is open is refused.
	if _, err := b.k.Rotate(ctx, name, "api_key:ops", "again"); !errors.Is(err, errs.Conflict) {
		t.Errorf("second Rotate = %v, want Conflict", err)
	}
	// The other replica switches at its next poll, without a restart.
	if err := other.k.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if other.secret() != b.secret() || other.cred.Info().KeyID != r.NewKeyID {
		t.Errorf("the other replica did not take up the new key: %+v", other.cred.Info())
	}
	// Before the grace period ends nothing is deleted.
	b.clock.Advance(time.Minute)
	if err := other.k.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if !b.works(t, oldSecret) {
		t.Fatal("the old key was deleted inside the grace period")
	}
	// After it, whichever replica passes deletes the old key.
	b.clock.Advance(time.Minute)
	if err := other.k.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if b.works(t, oldSecret) || !b.works(t, b.secret()) {
		t.Error("after the grace period: the old key must be gone, the new one working")
	}
	if got := b.adminKeys(); len(got) != 1 || got[0].ID != r.NewKeyID {
		t.Errorf("admin keys upstream %+v, want exactly the new one", got)
	}
	done, err := b.store.GetRotation(ctx, store.GetRotationParams{ID: r.ID})
	if err != nil || done.State != store.RotationDone {
		t.Errorf("rotation = %+v, %v; want done", done, err)
	}
	want := []string{adminkey.ActionRotationStarted, adminkey.ActionRotated, adminkey.ActionRetired}
	if diff := cmp.Diff(want, b.actions(t)); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
	if other.cred.IsProtected(oldID) {
		t.Error("the deleted key is still protected")
	}
	if v := workertest.Metric(t, other.reg, "ztbroker_upstream_credential_rotations_total", map[string]string{"upstream": name, "result": "done"}); v != 1 {
		t.Errorf("rotations_total{done} = %v, want 1", v)
	}
	// The first replica, still holding the now-stale protection, learns.
	if err := b.k.RunOnce(ctx); err != nil || b.cred.IsProtected(oldID) {
		t.Errorf("first replica after done: %v, protected %v", err, b.cred.IsProtected(oldID))
	}
}

// TestScheduledRotation rotates a key inside rotate.before without being
// asked, and a rotated key again when its own time comes.
func TestScheduledRotation(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.WithAdminKeyLifetime(100*time.Hour))
	ctx := t.Context()
	if err := b.k.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.k.RunOnce(ctx); err != nil || b.cred.Info().Source != upstream.SourceConfig {
		t.Fatalf("100h before expiry nothing is due: %v, %+v", err, b.cred.Info())
	}
	b.clock.Advance(29 * time.Hour) // 71h left
	if err := b.k.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	first := b.cred.Info()
	if first.Source != upstream.SourceRotated {
		t.Fatalf("71h before expiry the key was not rotated: %+v\n%s", first, b.logs.String())
	}
	b.clock.Advance(3 * time.Minute)
	if err := b.k.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	// 30 days on, the rotated key is due in turn.
	b.clock.Advance(30*24*time.Hour - 71*time.Hour)
	if err := b.k.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	second := b.cred.Info()
	if second.KeyID == first.KeyID || second.Source != upstream.SourceRotated {
		t.Fatalf("the rotated key was not rotated in turn: %+v", second)
	}
	b.clock.Advance(3 * time.Minute)
	if err := b.k.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if got := b.adminKeys(); len(got) != 1 || got[0].ID != second.KeyID {
		t.Errorf("admin keys %+v, want only %s", got, second.KeyID)
	}
	// A replica started now with the original configuration takes up the
	// key of the second rotation: the configured key it all started from
	// still selects the stored one.
	late := b.newReplica(t, b.emu.AdminToken, nil)
	if err := late.k.Init(ctx); err != nil {
		t.Fatalf("Init of a replica configured with the original key: %v", err)
	}
	if late.cred.Info().KeyID != second.KeyID {
		t.Errorf("late replica uses %+v", late.cred.Info())
	}
}

// TestRecovery resumes rotations a crash left at each step.
func TestRecovery(t *testing.T) {
	t.Parallel()
	t.Run("started, a key minted but not recorded", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		if err := b.k.Init(ctx); err != nil {
			t.Fatal(err)
		}
		r := b.startRotation(t)
		stray, err := b.api.CreateKey(ctx, "test", r.Account, r.Description, b.clock.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if err := b.k.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		keys := b.liveKeys()[r.Description]
		if b.works(t, stray.Secret) || len(keys) != 1 || keys[0].ID != b.cred.Info().KeyID {
			t.Errorf("after recovery: stray alive %v, keys under the rotation's name %+v, in use %s",
				b.works(t, stray.Secret), keys, b.cred.Info().KeyID)
		}
	})
	t.Run("minted, not switched", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ctx := t.Context()
		if err := b.k.Init(ctx); err != nil {
			t.Fatal(err)
		}
		r := b.startRotation(t)
		nk, err := b.api.CreateKey(ctx, "test", r.Account, r.Description, b.clock.Now().Add(30*24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		sealed, err := b.sealer.Seal([]byte(nk.Secret), "ztbroker/upstream-credential/"+name+"/"+nk.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.store.RecordRotationKey(ctx, store.RecordRotationKeyParams{ID: r.ID, NewKeyID: nk.ID, NewSHA256: "x",
			Sealed: sealed, Expires: nk.Expires, Now: b.clock.Now()}); err != nil {
			t.Fatal(err)
		}
		if err := b.k.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if b.secret() != nk.Secret {
			t.Fatal("the minted key was not switched to")
		}
		b.clock.Advance(3 * time.Minute)
		if err := b.k.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if got := b.adminKeys(); len(got) != 1 || got[0].ID != nk.ID {
			t.Errorf("admin keys %+v, want only %s", got, nk.ID)
		}
	})
	t.Run("a mint refused", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emulator.WithFault(emulator.RouteV2CreateKey, emulator.Fault{Status: 400, Match: "-admin@"}))
		ctx := t.Context()
		if err := b.k.Init(ctx); err != nil {
			t.Fatal(err)
		}
		_, err := b.k.Rotate(ctx, name, "api_key:ops", "test")
		wantErrText(t, err, "rotation of upstream \"new_central\" failed: the new admin key could not be minted")
		if !errors.Is(err, errs.Unavailable) {
			t.Errorf("error kind: %v", err)
		}
		if b.secret() != b.emu.AdminToken || len(b.adminKeys()) != 1 {
			t.Error("a failed rotation must leave the old key alone in use")
		}
		want := []string{adminkey.ActionRotationStarted, adminkey.ActionRotationFailed}
		if diff := cmp.Diff(want, b.actions(t)); diff != "" {
			t.Errorf("audit (-want +got):\n%s", diff)
		}
	})
	t.Run("a mint whose answer was lost", func(t *testing.T) {
		t.Parallel()
		b := setup(t, emulator.WithFault(emulator.RouteV2CreateKey,
			emulator.Fault{After: true, Status: 502, Match: "-admin@", Times: 1}))
		ctx := t.Context()
		if err := b.k.Init(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := b.k.Rotate(ctx, name, "api_key:ops", "test"); err == nil {
			t.Fatal("Rotate succeeded although the mint's answer was lost")
		}
		if b.secret() != b.emu.AdminToken {
			t.Fatal("switched to a key whose secret was never seen")
		}
		// The key exists upstream; the next pass deletes it and mints anew.
		if err := b.k.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		b.clock.Advance(3 * time.Minute)
		if err := b.k.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if got := b.adminKeys(); len(got) != 1 || got[0].ID != b.cred.Info().KeyID || b.secret() == b.emu.AdminToken {
			t.Errorf("admin keys %+v, in use %s: want exactly the rotated one", got, b.cred.Info().KeyID)
		}
	})
}

// TestOneRotationAtATime: while another replica holds the rotation lock,
// a request is refused at once and a scheduled pass leaves it alone.
func TestOneRotationAtATime(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.WithAdminKeyLifetime(time.Hour))
	ctx := t.Context()
	if err := b.k.Init(ctx); err != nil {
		t.Fatal(err)
	}
	locked, err := b.store.RotationLock(ctx, store.RotationLockParams{Upstream: name}, func(context.Context) error {
		_, err := b.k.Rotate(ctx, name, "api_key:ops", "test")
		if !errors.Is(err, errs.Conflict) {
			t.Errorf("Rotate while another replica rotates = %v, want Conflict", err)
		}
		return b.k.RunOnce(ctx)
	})
	if !locked || err != nil {
		t.Fatalf("lock = %v, %v", locked, err)
	}
	if b.cred.Info().Source != upstream.SourceConfig {
		t.Error("rotated while another replica held the lock")
	}
}

// TestRefusedKeyFollowsTheRotation: a replica that missed the switch gets a
// 401 once the old key is deleted, reloads from the store and repeats
// the call, which succeeds.
func TestRefusedKeyFollowsTheRotation(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	if err := b.k.Init(ctx); err != nil {
		t.Fatal(err)
	}
	stale := b.newReplica(t, b.emu.AdminToken, nil)
	if err := stale.k.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := b.k.Rotate(ctx, name, "api_key:ops", "test"); err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(3 * time.Minute)
	if err := b.k.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := stale.api.Orgs(ctx, "test"); err != nil {
		t.Fatalf("a call with the retired key did not recover: %v", err)
	}
	if stale.secret() != b.secret() || b.emu.Count(emulator.RouteV2ListOrgs, http.StatusUnauthorized) != 1 {
		t.Errorf("stale replica: switched %v, refusals %d", stale.secret() == b.secret(), b.emu.Count(emulator.RouteV2ListOrgs, 401))
	}
}

// TestRotationNeedsNewCentral refuses what cannot work.
func TestRotationErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	if _, err := b.k.Rotate(t.Context(), "nope", "api_key:ops", ""); !errors.Is(err, errs.NotFound) {
		t.Errorf("unknown upstream = %v, want NotFound", err)
	}
	legacy := b.newReplica(t, b.emu.AdminToken, func(u *adminkey.Upstream) { u.API, u.Rotate = nil, nil })
	if _, err := legacy.k.Rotate(t.Context(), name, "api_key:ops", ""); !errors.Is(err, errs.FailedPrecondition) {
		t.Errorf("no API = %v, want FailedPrecondition", err)
	}
}

func (b *bench) startRotation(t *testing.T) *store.Rotation {
	t.Helper()
	id := uuid.Must(uuid.NewV7()).String()
	r, err := b.store.StartRotation(t.Context(), store.StartRotationParams{
		ID: id, Upstream: name, Account: emulator.DefaultServiceAccount, Description: upstream.AdminKeyDescription(prefix, id),
		OldKeyID: b.emu.AdminKeyID(), RequestedBy: "system:adminkey", Now: b.clock.Now(),
	})
	if err != nil {
		t.Fatal(err)
	}
	return r
}
