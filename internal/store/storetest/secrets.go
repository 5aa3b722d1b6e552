package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
)

func activateSealed(t *testing.T, s store.Store, sealed []byte, until time.Time) *lease.Lease {
	t.Helper()
	l := pending(t, s)
	a, err := s.Activate(ctx(t), store.ActivateParams{
		ID: l.ID, UpstreamTokenID: "k", TokenSHA256: lease.HashToken("x"), Now: t0,
		SealedSecret: sealed, SealedUntil: until,
	})
	if err != nil {
		t.Fatalf("Activate: %v", err)
	}
	return a
}

func testSealedSecrets(t *testing.T, newStore NewStore) {
	s := newStore(t)
	ciphertext := []byte{0, 1, 2, 0xfe, 0xff}
	live := activateSealed(t, s, ciphertext, t0.Add(time.Hour))
	short := activateSealed(t, s, []byte("short"), t0.Add(time.Minute))
	revoked := activateSealed(t, s, []byte("revoked"), t0.Add(time.Hour))
	if _, _, err := s.BeginRevoke(ctx(t), store.BeginRevokeParams{ID: revoked.ID, Now: t0, ClaimUntil: t0}); err != nil {
		t.Fatal(err)
	}
	none := active(t, s)

	got, err := s.SealedSecret(ctx(t), store.SealedSecretParams{ID: live.ID, Now: t0.Add(time.Minute)})
	if err != nil || !bytes.Equal(got, ciphertext) {
		t.Errorf("SealedSecret = %x, %v; want %x", got, err, ciphertext)
	}
	if len(got) > 0 {
		got[0] = 42 // the caller's copy is its own
	}
	for _, c := range []struct {
		what string
		id   string
		now  time.Time
	}{
		{"at the end of its window", short.ID, t0.Add(time.Minute)},
		{"of a lease being revoked", revoked.ID, t0},
		{"of a lease without one", none.ID, t0},
		{"of an unknown lease", newID(), t0},
	} {
		_, err := s.SealedSecret(ctx(t), store.SealedSecretParams{ID: c.id, Now: c.now})
		wantErr(t, "SealedSecret "+c.what, err, errs.NotFound)
	}

	n, err := s.EraseSealedSecrets(ctx(t), t0.Add(time.Minute))
	if err != nil || n != 2 {
		t.Errorf("EraseSealedSecrets = %d, %v; want 2 (expired and revoked)", n, err)
	}
	got, err = s.SealedSecret(ctx(t), store.SealedSecretParams{ID: live.ID, Now: t0.Add(time.Minute)})
	if err != nil || !bytes.Equal(got, ciphertext) {
		t.Errorf("SealedSecret after erasing others = %x, %v; want %x", got, err, ciphertext)
	}
	if n, err := s.EraseSealedSecrets(ctx(t), t0.Add(time.Minute)); err != nil || n != 0 {
		t.Errorf("second EraseSealedSecrets = %d, %v; want 0", n, err)
	}
	if n, err := s.EraseSealedSecrets(ctx(t), t0.Add(time.Hour)); err != nil || n != 1 {
		t.Errorf("EraseSealedSecrets at the end of the window = %d, %v; want 1", n, err)
	}
	_, err = s.SealedSecret(ctx(t), store.SealedSecretParams{ID: live.ID, Now: t0})
	wantErr(t, "SealedSecret after erase", err, errs.NotFound)
}
