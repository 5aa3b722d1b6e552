package reconcile_test

import (
	"net/http"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator/emulatortest"
	"github.com/ztbroker/ztbroker/internal/upstream/newcentral"
	"github.com/ztbroker/ztbroker/internal/worker/reconcile"
	"github.com/ztbroker/ztbroker/internal/worker/workertest"
)

// TestUpstreamsReconcileApart: two organisations whose service accounts
// share an id are reconciled each against its own leases. A key on
// staging named exactly like a prod lease still minting is an orphan on
// staging; prod's leases never look vanished for not being on staging;
// and prod is never sent a delete for staging's sake.
func TestUpstreamsReconcileApart(t *testing.T) {
	t.Parallel()
	env := workertest.NewEnv(t)
	stagingEmu := emulatortest.Start(t, emulator.WithClock(env.Clock.Now))
	named := func(name string) func(*newcentral.Config) { return func(c *newcentral.Config) { c.Name = name } }
	prod := env.Emu.NewCentralIssuer(t, named("prod"))
	staging := stagingEmu.NewCentralIssuer(t, named("staging"))
	if prod.Account() != staging.Account() {
		t.Fatalf("accounts %q and %q differ; the test needs them alike", prod.Account(), staging.Account())
	}
	env.Registry = upstream.NewRegistry(prod, staging)
	b := &bench{Env: env, reg: prometheus.NewRegistry()}
	r, err := reconcile.New(reconcile.Config{Deps: env.Deps(b.reg), Prefix: workertest.Prefix, PendingTimeout: pendingTimeout})
	if err != nil {
		t.Fatal(err)
	}

	expire := env.Clock.Now().Add(time.Hour)
	_, stagingSecret := env.Active(t, staging, "deploy", expire)
	_, prodSecret := env.Active(t, prod, "deploy", expire)
	// Old enough that a missing token would count as vanished.
	env.Clock.Advance(pendingTimeout + time.Second)
	minting := env.Pending(t, prod, "deploy", expire)
	impostor := b.mintRaw(t, staging, minting.UpstreamName)
	orphanName := lease.UpstreamNameFor(workertest.Prefix, "deploy", uuid.Must(uuid.NewV7()).String())
	orphan := b.mintRaw(t, staging, orphanName)

	rep, err := r.RunOnce(t.Context())
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	want := []reconcile.Token{
		{Upstream: "staging", Account: staging.Account(), ID: impostor.ID, Name: minting.UpstreamName},
		{Upstream: "staging", Account: staging.Account(), ID: orphan.ID, Name: orphanName},
	}
	if d := gocmp.Diff(want, rep.Deleted, sortTokens); d != "" {
		t.Errorf("deleted (-want +got):\n%s", d)
	}
	if len(rep.Vanished) != 0 {
		t.Errorf("vanished = %v, want none: every lease's token is on its own upstream", rep.Vanished)
	}
	if env.Emu.TryToken(t.Context(), prod.AuthScheme(), prodSecret) != http.StatusOK {
		t.Error("the prod lease's token was deleted")
	}
	if stagingEmu.TryToken(t.Context(), staging.AuthScheme(), stagingSecret) != http.StatusOK {
		t.Error("the staging lease's token was deleted")
	}
	if n := env.Emu.Count(emulator.RouteV2DeleteKey, http.StatusOK); n != 0 {
		t.Errorf("prod got %d deletes, want none", n)
	}
}
