package chaos

import (
	"context"
	crand "crypto/rand"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// rotationNC is what the rotation test adds under new_central: replicas
// look for a rotated key every second and delete the old one three
// seconds after the switch.
const rotationNC = `    credential_poll_interval: 1s
    rotate: {before: 1h, lifetime: 30d, grace: 3s}`

// TestSIGKILLDuringAdminKeyRotation rotates the admin key while two
// replicas issue and revoke under load, and SIGKILLs the replica doing the
// rotation at its two riskiest moments: after the new key was created
// upstream but before the broker heard of it, and after the switch but
// before the old key was deleted. Each time the survivor must finish the
// job: afterwards exactly one admin key exists, it is the one stored, it
// works, and no lease is lost or leaves a token behind.
func TestSIGKILLDuringAdminKeyRotation(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	dsn := pgtest.NewDatabase(t)
	e := newEnv(t, dsn)
	sealKey := make([]byte, 32)
	_, _ = crand.Read(sealKey)
	e.configPath, e.brokerEnv, e.apiKey = brokerConfigWith(t, e.emu.URL, e.emu.AdminToken, dsn, rotationNC,
		"idempotency:\n  seal_key_env: CHAOS_SEAL_KEY\n")
	e.brokerEnv = append(e.brokerEnv, "CHAOS_SEAL_KEY="+base64.StdEncoding.EncodeToString(sealKey))

	replicas := []*atomic.Pointer[broker]{{}, {}}
	for _, r := range replicas {
		r.Store(e.startBroker())
	}
	var ld load
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	progress := make(chan struct{}, 64)
	for w := range 4 {
		wrng := rand.New(rand.NewPCG(uint64(w), 9))
		wg.Go(func() { runLoad(loadCtx, wrng, replicas[w%2], &ld, progress) })
	}
	awaitProgress := func(what string) {
		t.Helper()
		for range 4 {
			select {
			case <-progress:
			case <-time.After(progressWithin):
				stopLoad()
				wg.Wait()
				t.Fatalf("%s: no operation succeeded within %s", what, progressWithin)
			}
		}
	}
	awaitProgress("before the first rotation")

	// 1. The new key is created upstream and its answer never comes back:
	// kill the rotating replica then.
	if err := e.admin.SetFault(ctx, emulator.RouteV2CreateKey,
		emulator.Fault{After: true, Hang: true, Match: `"description":"ztbroker-admin@`}); err != nil {
		t.Fatal(err)
	}
	victim := replicas[0].Load()
	rotated := make(chan int, 1)
	go func() { rotated <- e.rotate(ctx, victim) }()
	defer func() {
		if t.Failed() {
			select {
			case st := <-rotated:
				t.Logf("the first rotation request answered HTTP %d", st)
			default:
			}
		}
	}()
	ok, why := poll(ctx, outageWithin, func(ctx context.Context) (bool, string) {
		g, err := e.admin.Tokens(ctx)
		if err != nil {
			return false, err.Error()
		}
		for _, k := range adminKeys(g) {
			if strings.HasPrefix(k.Description, "ztbroker-admin@") {
				return true, ""
			}
		}
		return false, "no key minted by the rotation yet"
	})
	if !ok {
		t.Fatalf("the rotation did not mint: %s", why)
	}
	victim.proc.Kill()
	<-rotated
	if err := e.admin.ClearFault(ctx, emulator.RouteV2CreateKey); err != nil {
		t.Fatal(err)
	}
	replicas[0].Store(e.startBroker())
	victim.close()
	first := e.awaitRotationDone(ctx, t)
	awaitProgress("after the first rotation")

	// 2. Killed after the switch, inside the grace period: the survivor
	// deletes the old key when the grace period ends.
	victim = replicas[1].Load()
	// 409 is the survivor's keeper holding the rotation lock for a moment
	// ("try again shortly"); the API says to retry, so the test does.
	var status int
	if ok, _ := poll(ctx, settleWithin, func(ctx context.Context) (bool, string) {
		status = e.rotate(ctx, victim)
		return status != http.StatusConflict, ""
	}); !ok || status != http.StatusOK {
		t.Fatalf("second rotation: HTTP %d", status)
	}
	victim.proc.Kill()
	replicas[1].Store(e.startBroker())
	victim.close()
	second := e.awaitRotationDone(ctx, t)
	awaitProgress("after the second rotation")

	stopLoad()
	wg.Wait()
	a, settled := e.settle(ctx, settleWithin, chaosLag)
	if !settled {
		t.Errorf("the leases did not settle: %s", a)
	}
	rows, err := e.leases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range ld.confirmed {
		if _, ok := rows[id]; !ok {
			t.Errorf("lease %s was confirmed to a caller but is not in the database", id)
		}
	}

	// Exactly one admin key, the stored one, and it works on both
	// replicas.
	g, err := e.admin.Tokens(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keys := adminKeys(g)
	var storedID, storedSHA string
	if err := e.db().QueryRow(ctx, `SELECT key_id, key_sha256 FROM upstream_credentials WHERE upstream = 'new_central'`).
		Scan(&storedID, &storedSHA); err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].ID != storedID || keys[0].SHA256 != storedSHA || storedID != second {
		t.Errorf("admin keys upstream %+v; want exactly the stored one, %s (second rotation's %s)", keys, storedID, second)
	}
	for i, r := range replicas {
		if _, err := r.Load().issueGRPC(ctx, purposeNC, time.Second); err != nil {
			t.Errorf("replica %d cannot mint after the rotations: %v", i, err)
		}
	}
	var rotations []string
	drows, err := e.db().Query(ctx, `SELECT state FROM upstream_rotations ORDER BY id`)
	if err != nil {
		t.Fatal(err)
	}
	for drows.Next() {
		var s string
		_ = drows.Scan(&s)
		rotations = append(rotations, s)
	}
	t.Logf("ROTATION kills=2 rotations=%v first=%s second=%s leases=%d confirmed=%d client_failures=%d",
		rotations, first, second, len(rows), len(ld.confirmed), ld.failures)
}

// rotate asks b to rotate the New Central admin key and returns the HTTP
// status, zero when no answer came (the process died).
func (e *env) rotate(ctx context.Context, b *broker) int {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost,
		"http://"+b.proc.HTTPAddr+"/v1/admin/upstreams/new_central:rotateKey", strings.NewReader(`{"reason":"chaos"}`))
	if err != nil {
		return 0
	}
	req.Header.Set("Authorization", "Bearer "+b.apiKey)
	resp, err := b.hc.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	return resp.StatusCode
}

// awaitRotationDone waits until no rotation is open and the last one is
// done, and returns the key it switched to.
func (e *env) awaitRotationDone(ctx context.Context, t *testing.T) string {
	t.Helper()
	var newKey string
	ok, why := poll(ctx, settleWithin, func(ctx context.Context) (bool, string) {
		var state string
		err := e.db().QueryRow(ctx, `SELECT state, new_key_id FROM upstream_rotations ORDER BY id DESC LIMIT 1`).Scan(&state, &newKey)
		if err != nil {
			return false, err.Error()
		}
		return state == "done", fmt.Sprintf("last rotation %s", state)
	})
	if !ok {
		t.Fatalf("the rotation was not finished by the survivor: %s", why)
	}
	return newKey
}
