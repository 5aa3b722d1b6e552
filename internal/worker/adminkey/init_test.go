package adminkey_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/worker/adminkey"
	"github.com/ztbroker/ztbroker/internal/worker/workertest"
)

// TestInit checks the start-up verdicts, each naming the upstream.
func TestInit(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		opts    []emulator.Option
		secret  string
		mod     func(*adminkey.Upstream)
		wantErr []string
	}{
		{name: "a good key"},
		{name: "an expired key", opts: []emulator.Option{emulator.WithAdminKeyLifetime(-time.Minute)},
			wantErr: []string{"upstream new_central: ", "the admin key was refused (HTTP 401): it is wrong, deleted or expired"}},
		{name: "a wrong key", secret: "not-the-key",
			wantErr: []string{"upstream new_central: ", "refused (HTTP 401)"}},
		{name: "expiring within the minimum", opts: []emulator.Option{emulator.WithAdminKeyLifetime(30 * time.Minute)},
			mod:     func(u *adminkey.Upstream) { u.Rotate = nil },
			wantErr: []string{"upstream new_central: admin key ", "within expiry_minimum (1h0m0s): replace it, or set rotate"}},
		{name: "expiring within the minimum, with rotation", opts: []emulator.Option{emulator.WithAdminKeyLifetime(30 * time.Minute)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.opts...)
			r := b.replica
			if tt.secret != "" || tt.mod != nil {
				s := tt.secret
				if s == "" {
					s = b.emu.AdminToken
				}
				r = b.newReplica(t, s, tt.mod)
			}
			err := r.k.Init(t.Context())
			if tt.wantErr != nil {
				wantErrText(t, err, tt.wantErr...)
				return
			}
			if err != nil {
				t.Fatalf("Init: %v", err)
			}
			info := r.cred.Info()
			if info.KeyID != b.emu.AdminKeyID() || info.Account != emulator.DefaultServiceAccount ||
				info.Source != upstream.SourceConfig || info.Expires.IsZero() {
				t.Errorf("credential after Init = %+v", info)
			}
			left := workertest.Metric(t, r.reg, adminkey.ExpiryMetric, map[string]string{"upstream": name})
			if want := info.Expires.Sub(b.clock.Now()).Seconds(); left != want {
				t.Errorf("%s = %v, want %v", adminkey.ExpiryMetric, left, want)
			}
		})
	}
}

// TestExpiryWarning: inside the margin the status says so; once expired,
// it says that.
func TestExpiryWarning(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.WithAdminKeyLifetime(10*24*time.Hour))
	if err := b.k.Init(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := b.k.Status()[0]; st.Warning != "" || st.Expired {
		t.Errorf("10 days before expiry: %+v", st)
	}
	b.clock.Advance(4 * 24 * time.Hour)
	st := b.k.Status()[0]
	if st.Expired || st.Warning == "" || st.Left != 6*24*time.Hour {
		t.Errorf("6 days before expiry: %+v, want a warning", st)
	}
	b.clock.Advance(7 * 24 * time.Hour)
	if st := b.k.Status()[0]; !st.Expired {
		t.Errorf("after expiry: %+v", st)
	}
}

// TestExpiryWarningLogged: a key inside its warning margin is logged as a
// warning naming the upstream, the key and the time left, at most once an
// hour however often the keeper passes, and never with the secret.
func TestExpiryWarningLogged(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.WithAdminKeyLifetime(10*24*time.Hour))
	r := b.newReplica(t, b.emu.AdminToken, func(u *adminkey.Upstream) { u.Rotate = nil })
	ctx := t.Context()
	if err := r.k.Init(ctx); err != nil {
		t.Fatal(err)
	}
	const line = `"level":"WARN","msg":"the admin key expires soon; replace it or set rotate"`
	warnings := func() []string {
		var out []string
		for _, l := range strings.Split(b.logs.String(), "\n") {
			if strings.Contains(l, line) {
				out = append(out, l)
			}
		}
		return out
	}
	if err := r.k.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if w := warnings(); len(w) != 0 {
		t.Fatalf("10 days before expiry, outside the 7-day margin: %q", w)
	}
	b.clock.Advance(4 * 24 * time.Hour)
	for range 3 {
		if err := r.k.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
	}
	w := warnings()
	if len(w) != 1 {
		t.Fatalf("%d warnings over three passes inside the margin, want 1: %q", len(w), w)
	}
	for _, want := range []string{`"upstream":"new_central"`, `"key_id":"` + b.emu.AdminKeyID() + `"`, fmt.Sprintf(`"left":%d,`, int64(144*time.Hour)), fmt.Sprintf(`"warning_margin":%d}`, int64(168*time.Hour))} {
		if !strings.Contains(w[0], want) {
			t.Errorf("warning %s lacks %s", w[0], want)
		}
	}
	b.clock.Advance(time.Hour)
	if err := r.k.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(warnings()); n != 2 {
		t.Errorf("%d warnings an hour later, want 2", n)
	}
	if strings.Contains(b.logs.String(), b.emu.AdminToken) {
		t.Error("the admin key's secret is in the log")
	}
}

// TestExpiryNoticeWithRotation: with rotation configured, a key inside
// its warning margin but before its rotation window is only noted (the
// rotation will come), and a key inside its rotation window that a pass
// failed to replace is a warning saying so.
func TestExpiryNoticeWithRotation(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.WithAdminKeyLifetime(10*24*time.Hour),
		emulator.WithFault(emulator.RouteV2CreateKey, emulator.Fault{Status: 400, Match: "-admin@"}))
	ctx := t.Context()
	if err := b.k.Init(ctx); err != nil {
		t.Fatal(err)
	}
	const (
		notice  = `"level":"INFO","msg":"the admin key expires soon; rotation will replace it"`
		warning = `"level":"WARN","msg":"the admin key is due for rotation and has not been rotated"`
		old     = `"msg":"the admin key expires soon; replace it or set rotate"`
	)
	count := func(line string) int { return strings.Count(b.logs.String(), line) }

	b.clock.Advance(4 * 24 * time.Hour) // 6 days left: inside the 7-day margin, 3 days before rotate.before
	if err := b.k.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if count(notice) != 1 || count(warning) != 0 || count(old) != 0 {
		t.Fatalf("6 days before expiry: %d notices, %d warnings, %d of the old line; want 1, 0, 0:\n%s",
			count(notice), count(warning), count(old), b.logs.String())
	}
	if !strings.Contains(b.logs.String(), fmt.Sprintf(`"rotation_in":%d`, int64(72*time.Hour))) {
		t.Errorf("the notice does not say when the rotation comes:\n%s", b.logs.String())
	}

	b.clock.Advance(3*24*time.Hour + time.Hour) // inside rotate.before; the mint is refused
	if err := b.k.RunOnce(ctx); err == nil {
		t.Fatal("the pass succeeded although the rotation's mint was refused")
	}
	if count(warning) != 1 {
		t.Errorf("%d warnings after a failed rotation, want 1:\n%s", count(warning), b.logs.String())
	}
}

// TestNoWarningForAKeyRotatedInTime: the pass that enters the rotation
// window rotates the key, and what it would have warned about is gone.
func TestNoWarningForAKeyRotatedInTime(t *testing.T) {
	t.Parallel()
	b := setup(t, emulator.WithAdminKeyLifetime(10*24*time.Hour))
	ctx := t.Context()
	if err := b.k.Init(ctx); err != nil {
		t.Fatal(err)
	}
	b.clock.Advance(7*24*time.Hour + time.Hour)
	if err := b.k.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if b.secret() == b.emu.AdminToken {
		t.Fatal("the key inside rotate.before was not rotated")
	}
	if l := b.logs.String(); strings.Contains(l, `"level":"WARN"`) {
		t.Errorf("a warning for a key rotated in time:\n%s", l)
	}
}
