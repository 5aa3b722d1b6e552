package adminkey_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/worker/adminkey"
	"github.com/ztbroker/ztbroker/internal/worker/workertest"
)

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	// Renamed into place, as secret managers and Kubernetes do.
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// TestSecretFileReload: a key installed in the file is taken up (its id
// learnt); a broken file keeps the key in use.
func TestSecretFileReload(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "admin-key")
	writeFile(t, path, b.emu.AdminToken+"\n")
	r := b.newReplica(t, b.emu.AdminToken, func(u *adminkey.Upstream) { u.SecretFile = path })
	if err := r.k.Init(ctx); err != nil {
		t.Fatal(err)
	}
	// An operator makes a new key and installs it.
	nk, err := b.api.CreateKey(ctx, "test", emulator.DefaultServiceAccount, "broker admin key 2", b.clock.Now().Add(90*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(time.Minute) // the old key was last used a minute ago
	writeFile(t, path, nk.Secret+"\n")
	if err := r.k.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if r.secret() != nk.Secret || r.cred.Info().KeyID != nk.ID || !r.cred.Info().Expires.Equal(nk.Expires) {
		t.Fatalf("after the file changed: %+v", r.cred.Info())
	}
	// Half-written, or a key Central refuses: the key in use stays.
	for _, content := range []string{"", "not-a-key"} {
		writeFile(t, path, content)
		if err := r.k.RunOnce(ctx); content == "not-a-key" && err == nil {
			t.Errorf("a refused key in the file: no error")
		}
		if r.secret() != nk.Secret {
			t.Fatalf("file %q replaced the working key", content)
		}
	}
	if !strings.Contains(b.logs.String(), "cannot read the admin key file; keeping the previous key") {
		t.Error("the unreadable file was not logged")
	}
}

// TestReloadSignal: the loop re-reads the file on Reload (SIGHUP) and
// tells its test hook.
func TestReloadSignal(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "admin-key")
	writeFile(t, path, b.emu.AdminToken)
	syncs := workertest.NewRecorder[string]()
	r := b.newReplica(t, b.emu.AdminToken, func(u *adminkey.Upstream) { u.SecretFile = path; u.Poll = time.Hour },
		func(up string, err error) { syncs.Record(up) })
	if err := r.k.Init(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.k.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.k.Stop)
	nk, err := b.api.CreateKey(ctx, "test", emulator.DefaultServiceAccount, "broker admin key 2", b.clock.Now().Add(90*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(time.Minute) // the old key was last used a minute ago
	writeFile(t, path, nk.Secret)
	r.k.Reload()
	syncs.Wait(t, func(string) bool { return r.secret() == nk.Secret })
}

// TestConfiguredKeySupersedesTheRotated: after a rotation, an operator
// installs a key of their own in the configuration. It takes over, and the
// rotated key it replaced is deleted and forgotten.
func TestConfiguredKeySupersedesTheRotated(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "admin-key")
	writeFile(t, path, b.emu.AdminToken)
	r := b.newReplica(t, b.emu.AdminToken, func(u *adminkey.Upstream) { u.SecretFile = path })
	if err := r.k.Init(ctx); err != nil {
		t.Fatal(err)
	}
	rot, err := r.k.Rotate(ctx, name, "api_key:ops", "test")
	if err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(3 * time.Minute)
	if err := r.k.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	rotated := r.secret()
	// The file still names the original key: the rotated key stays.
	if err := r.k.RunOnce(ctx); err != nil || r.secret() != rotated {
		t.Fatalf("with the original key still configured the rotated key must stay: %v", err)
	}
	mine, err := r.api.CreateKey(ctx, "test", emulator.DefaultServiceAccount, "operator's key", b.clock.Now().Add(90*24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(time.Minute)
	writeFile(t, path, mine.Secret)
	if err := r.k.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if r.secret() != mine.Secret || r.cred.Info().Source != upstream.SourceConfig {
		t.Fatalf("the operator's key did not take over: %+v", r.cred.Info())
	}
	if b.works(t, rotated) {
		t.Error("the replaced rotated key still works")
	}
	if got := b.adminKeys(); len(got) != 1 || got[0].ID != mine.ID {
		t.Errorf("admin keys %+v, want only the operator's", got)
	}
	want := []string{adminkey.ActionRotationStarted, adminkey.ActionRotated, adminkey.ActionRetired, adminkey.ActionReplacedByConfig}
	if diff := cmp.Diff(want, b.actions(t)); diff != "" {
		t.Errorf("audit (-want +got):\n%s", diff)
	}
	_ = rot
	// A replica restarting with the operator's key uses it too.
	late := b.newReplica(t, mine.Secret, nil)
	if err := late.k.Init(context.Background()); err != nil || late.cred.Info().KeyID != mine.ID {
		t.Errorf("late replica: %v, %+v", err, late.cred.Info())
	}
}
