package reconcile_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/upstream"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/upstream/newcentral"
	"github.com/ztbroker/ztbroker/internal/worker/reconcile"
	"github.com/ztbroker/ztbroker/internal/worker/workertest"
)

// guarded is a bench whose reconciler guards both upstreams' accounts.
type guarded struct {
	*workertest.Env
	reg  *prometheus.Registry
	logs *syncBuffer
	r    *reconcile.Reconciler
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func guards(env *workertest.Env, mode string) []reconcile.Guard {
	return []reconcile.Guard{
		{Upstream: "new_central", Kind: env.NewCentral.Kind(), Accounts: []string{env.NewCentral.Account()}, ForeignKeys: mode},
		{Upstream: "legacy", Kind: env.Legacy.Kind(), Accounts: []string{env.Legacy.Account()}, ForeignKeys: mode},
	}
}

func setupGuarded(t *testing.T, env *workertest.Env, gs []reconcile.Guard) *guarded {
	t.Helper()
	g := &guarded{Env: env, reg: prometheus.NewRegistry(), logs: &syncBuffer{}}
	g.r = g.newReconciler(t, gs, g.reg)
	return g
}

func (g *guarded) newReconciler(t *testing.T, gs []reconcile.Guard, reg *prometheus.Registry) *reconcile.Reconciler {
	t.Helper()
	deps := g.Deps(reg)
	deps.Logger = slog.New(slog.NewJSONHandler(g.logs, nil))
	r, err := reconcile.New(reconcile.Config{Deps: deps, Prefix: workertest.Prefix, PendingTimeout: pendingTimeout, Guards: gs})
	if err != nil {
		t.Fatalf("reconcile.New: %v", err)
	}
	return r
}

// asHolder calls the emulator with a lease's secret, as its holder can.
func (g *guarded) asHolder(t *testing.T, method, path, auth, body string) map[string]any {
	t.Helper()
	status, b, err := g.Emu.Call(t.Context(), method, path, auth, body)
	if err != nil || status != http.StatusOK {
		t.Fatalf("%s %s as a lease holder = %d %s, %v", method, path, status, b, err)
	}
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

// backdoors has lease holders on both APIs create credentials of their
// own, and returns them as the reconciler should report them, with the
// leases whose holders could have.
func (g *guarded) backdoors(t *testing.T) (foreign []reconcile.Token, ncLease, lgLease string) {
	t.Helper()
	expire := g.Clock.Now().Add(time.Hour)
	ncl, ncSecret := g.Active(t, g.NewCentral, "deploy", expire)
	lgl, lgSecret := g.Active(t, g.Legacy, "deploy", expire)
	key := g.asHolder(t, http.MethodPost, "/api/v2/service-account/"+g.NewCentral.Account()+"/api-key", "Bearer "+ncSecret,
		`{"expires":"2099-01-01T00:00:00Z","description":"backdoor"}`)
	g.asHolder(t, http.MethodPost, "/api/v1/user/"+g.Legacy.Account()+"/token", "token "+lgSecret,
		`{"tokenName":"my-own","token":"0123456789abcdef0123456789abcdef0123"}`)
	foreign = []reconcile.Token{
		{Upstream: g.NewCentral.Kind(), Account: g.NewCentral.Account(), ID: key["id"].(string), Name: "backdoor"},
		{Upstream: g.Legacy.Kind(), Account: g.Legacy.Account(), ID: "my-own", Name: "my-own"},
	}
	return foreign, ncl.ID, lgl.ID
}

func foreignEvents(t *testing.T, st store.Store, action string) []*store.AuditEvent {
	t.Helper()
	res, err := st.ListAudit(t.Context(), store.ListAuditParams{Action: action, PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	return res.Events
}

var sortByID = func(a, b reconcile.Token) int { return strings.Compare(a.Upstream+a.ID, b.Upstream+b.ID) }

// TestForeignCredentialsAlarm: credentials a lease holder made with its
// rights, and keys merely named like the broker's, are reported — metric,
// audit event and error log naming the key, its creation time and the
// leases active then — once, across replicas, and left alone.
func TestForeignCredentialsAlarm(t *testing.T) {
	t.Parallel()
	// The admin key is named with the broker's prefix: it must survive.
	env := workertest.NewEnv(t, emulator.WithAdminKeyDescription(workertest.Prefix+"-prod"),
		emulator.WithLegacyAdminTokenName(workertest.Prefix+"-admin"))
	g := setupGuarded(t, env, guards(env, reconcile.ForeignAlarm))
	ctx := t.Context()
	want, ncLease, lgLease := g.backdoors(t)
	notUUID := g.MintUpstreamNamed(t, g.NewCentral, workertest.Prefix+"-x-notauuid")
	want = append(want, reconcile.Token{Upstream: g.NewCentral.Kind(), Account: g.NewCentral.Account(), ID: notUUID.ID, Name: workertest.Prefix + "-x-notauuid"})
	g.Clock.Advance(time.Minute)

	rep, err := g.r.RunOnce(ctx)
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if diff := gocmp.Diff(want, rep.Foreign, sortTokensFunc(sortByID)); diff != "" {
		t.Errorf("foreign (-want +got):\n%s", diff)
	}
	if len(rep.ForeignDeleted) != 0 || len(rep.Deleted) != 0 {
		t.Errorf("alarm mode deleted %v and %v", rep.ForeignDeleted, rep.Deleted)
	}
	for _, tok := range g.Emu.Tokens().ServiceAccounts[0].Keys {
		if !tok.Alive {
			t.Errorf("key %s (%s) was deleted", tok.ID, tok.Description)
		}
	}
	if g.Emu.TryLegacyToken(ctx, "token", g.Emu.AdminToken) != http.StatusOK {
		t.Error("the Legacy admin token was deleted")
	}

	events := foreignEvents(t, g.Store, reconcile.ActionForeign)
	if len(events) != 3 {
		t.Fatalf("%d foreign_credential events, want 3: %+v", len(events), events)
	}
	for _, e := range events {
		if e.Result != "alarm" || e.ActorSubject != "reconcile" {
			t.Errorf("event %+v", e)
		}
	}
	reason := map[string]string{}
	for _, e := range events {
		for _, tok := range want {
			if strings.Contains(e.Reason, "credential "+tok.ID+" ") {
				reason[tok.ID] = e.Reason
			}
		}
	}
	if r := reason[want[0].ID]; !strings.Contains(r, ncLease) || !strings.Contains(r, "created 20") {
		t.Errorf("the New Central alarm %q does not name the lease active when the key appeared (%s) and its creation", r, ncLease)
	}
	if r := reason["my-own"]; !strings.Contains(r, lgLease) || !strings.Contains(r, "at an unknown time") {
		t.Errorf("the Legacy alarm %q does not name the lease active then (%s)", r, lgLease)
	}
	logs := g.logs.String()
	for _, tok := range want {
		if !strings.Contains(logs, `"msg":"a credential the broker did not mint is on its account"`) ||
			!strings.Contains(logs, `"key_id":"`+tok.ID+`"`) {
			t.Errorf("no error log line names %s:\n%s", tok.ID, logs)
		}
	}
	metrics := map[string]float64{
		"new_central": workertest.Metric(t, g.reg, "ztbroker_upstream_foreign_credentials", map[string]string{"upstream": "new_central"}),
		"legacy":      workertest.Metric(t, g.reg, "ztbroker_upstream_foreign_credentials", map[string]string{"upstream": "legacy"}),
		"detected":    workertest.Metric(t, g.reg, "ztbroker_upstream_foreign_credentials_detected_total", map[string]string{"upstream": "new_central", "kind": "key"}),
	}
	if diff := gocmp.Diff(map[string]float64{"new_central": 2, "legacy": 1, "detected": 2}, metrics); diff != "" {
		t.Errorf("metrics (-want +got):\n%s", diff)
	}

	// Again, and from another replica: still counted, never re-alarmed.
	if _, err := g.r.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	other := g.newReconciler(t, guards(env, reconcile.ForeignAlarm), prometheus.NewRegistry())
	rep, err = other.RunOnce(ctx)
	if err != nil || len(rep.Foreign) != 3 {
		t.Fatalf("another replica's run = %d foreign, %v", len(rep.Foreign), err)
	}
	if n := len(foreignEvents(t, g.Store, reconcile.ActionForeign)); n != 3 {
		t.Errorf("%d foreign_credential events after three runs, want 3", n)
	}
	if n := strings.Count(g.logs.String(), "a credential the broker did not mint"); n != 3 {
		t.Errorf("%d alarm log lines after three runs, want 3", n)
	}
}

// TestForeignCredentialsDelete: with foreign_keys: delete the holders'
// credentials go, each deletion audited; the admin credentials, named with
// the broker's prefix, stay.
func TestForeignCredentialsDelete(t *testing.T) {
	t.Parallel()
	env := workertest.NewEnv(t, emulator.WithAdminKeyDescription(workertest.Prefix+"-prod"),
		emulator.WithLegacyAdminTokenName(workertest.Prefix+"-admin"))
	g := setupGuarded(t, env, guards(env, reconcile.ForeignDelete))
	ctx := t.Context()
	want, _, _ := g.backdoors(t)

	rep, err := g.r.RunOnce(ctx)
	if err != nil {
		t.Fatalf("RunOnce: %v", err)
	}
	if diff := gocmp.Diff(want, rep.ForeignDeleted, sortTokensFunc(sortByID)); diff != "" {
		t.Errorf("deleted (-want +got):\n%s", diff)
	}
	live := map[string]bool{}
	for _, tok := range g.Emu.Tokens().Alive() {
		live[tok.ID] = true
	}
	for _, tok := range want {
		if live[tok.ID] {
			t.Errorf("foreign %s still alive", tok.ID)
		}
	}
	if g.Emu.TryNewCentralToken(ctx, "Bearer", g.Emu.AdminToken) != http.StatusOK ||
		g.Emu.TryLegacyToken(ctx, "token", g.Emu.AdminToken) != http.StatusOK {
		t.Error("an admin credential named with the broker's prefix was deleted")
	}
	deleted := foreignEvents(t, g.Store, reconcile.ActionForeignDeleted)
	if len(deleted) != 2 {
		t.Errorf("%d foreign_credential_deleted events, want 2", len(deleted))
	}
	if v := workertest.Metric(t, g.reg, "ztbroker_upstream_foreign_credentials_deleted_total", map[string]string{"upstream": "new_central"}); v != 1 {
		t.Errorf("deleted_total = %v, want 1", v)
	}
	// Nothing foreign is left.
	rep, err = g.r.RunOnce(ctx)
	if err != nil || len(rep.Foreign) != 0 {
		t.Errorf("second run: foreign %v, %v", rep.Foreign, err)
	}
}

// TestRotationKeysAreNotForeign: a key a recorded rotation minted belongs
// to the rotation, which deletes its own strays; the same description with
// an id no rotation has is foreign.
func TestRotationKeysAreNotForeign(t *testing.T) {
	t.Parallel()
	env := workertest.NewEnv(t)
	g := setupGuarded(t, env, guards(env, reconcile.ForeignDelete))
	ctx := t.Context()
	id := uuid.Must(uuid.NewV7()).String()
	if _, err := g.Store.StartRotation(ctx, store.StartRotationParams{ID: id, Upstream: "new_central", Account: g.NewCentral.Account(),
		Description: upstream.AdminKeyDescription(workertest.Prefix, id), RequestedBy: "t", Now: g.Clock.Now()}); err != nil {
		t.Fatal(err)
	}
	mine := g.MintUpstreamNamed(t, g.NewCentral, upstream.AdminKeyDescription(workertest.Prefix, id))
	fake := g.MintUpstreamNamed(t, g.NewCentral, upstream.AdminKeyDescription(workertest.Prefix, uuid.Must(uuid.NewV7()).String()))
	rep, err := g.r.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, tok := range rep.ForeignDeleted {
		ids = append(ids, tok.ID)
	}
	if !slices.Equal(ids, []string{fake.ID}) || slices.Contains(ids, mine.ID) {
		t.Errorf("deleted %v, want only the key no rotation minted (%s)", ids, fake.ID)
	}
}

func TestGuardWaitsForTheAdminKey(t *testing.T) {
	t.Parallel()
	env := workertest.NewEnv(t)
	gs := guards(env, reconcile.ForeignDelete)
	for i := range gs {
		gs[i].Disabled = func() string { return "the admin key's id is unknown" }
	}
	g := setupGuarded(t, env, gs)
	g.backdoors(t)
	rep, err := g.r.RunOnce(t.Context())
	if err != nil || len(rep.Foreign) != 0 || len(rep.ForeignDeleted) != 0 {
		t.Errorf("run with the guard suspended: foreign %v deleted %v, %v", rep.Foreign, rep.ForeignDeleted, err)
	}
	if !strings.Contains(g.logs.String(), "foreign credentials are not watched on this upstream") {
		t.Error("the suspended guard was not logged")
	}
}

// TestOrgWatch: the first watch takes what exists as its baseline; a
// service account a lease holder creates afterwards is reported once,
// naming the leases active then, and never deleted.
func TestOrgWatch(t *testing.T) {
	t.Parallel()
	env := workertest.NewEnv(t)
	api := env.NewCentral.(*newcentral.Client).API()
	gs := guards(env, reconcile.ForeignDelete)
	gs[0].ServiceAccounts = func(ctx context.Context) ([]upstream.Principal, error) {
		sas, err := api.ServiceAccounts(ctx, "org_watch", emulator.DefaultOrgID)
		var out []upstream.Principal
		for _, sa := range sas {
			out = append(out, upstream.Principal{ID: sa.ID, Name: sa.Name, Created: sa.Created})
		}
		return out, err
	}
	g := setupGuarded(t, env, gs)
	ctx := t.Context()
	rep, err := g.r.RunOnce(ctx)
	if err != nil || len(rep.NewServiceAccounts) != 0 {
		t.Fatalf("baseline run: new %v, %v", rep.NewServiceAccounts, err)
	}
	if n := len(foreignEvents(t, g.Store, reconcile.ActionOrgBaseline)); n != 1 {
		t.Errorf("%d baseline events, want 1", n)
	}

	l, secret := g.Active(t, g.NewCentral, "deploy", g.Clock.Now().Add(time.Hour))
	g.asHolder(t, http.MethodPost, "/api/v2/org/"+emulator.DefaultOrgID+"/service-account", "Bearer "+secret,
		`{"id":"sa-mine","name":"mine"}`)
	for i := range 2 {
		rep, err = g.r.RunOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if want := map[int][]string{0: {"sa-mine"}, 1: nil}[i]; !slices.Equal(rep.NewServiceAccounts, want) {
			t.Errorf("run %d: new service accounts %v, want %v", i, rep.NewServiceAccounts, want)
		}
	}
	events := foreignEvents(t, g.Store, reconcile.ActionNewAccount)
	if len(events) != 1 || !strings.Contains(events[0].Reason, "sa-mine") || !strings.Contains(events[0].Reason, l.ID) {
		t.Errorf("new_service_account events %+v, want one naming sa-mine and lease %s", events, l.ID)
	}
	status, _, _ := g.Emu.Call(ctx, http.MethodGet, "/api/v2/service-account/sa-mine", "Bearer "+g.Emu.AdminToken, "")
	if status != http.StatusOK {
		t.Errorf("the new service account is gone (%d): the org watch must never delete", status)
	}
	if v := workertest.Metric(t, g.reg, "ztbroker_upstream_foreign_credentials_detected_total",
		map[string]string{"upstream": "new_central", "kind": "service_account"}); v != 1 {
		t.Errorf("detected_total{kind=service_account} = %v, want 1", v)
	}
	_ = fmt.Sprint()
}

func sortTokensFunc(f func(a, b reconcile.Token) int) gocmp.Option {
	return gocmp.Transformer("sort", func(in []reconcile.Token) []reconcile.Token {
		out := slices.Clone(in)
		slices.SortFunc(out, f)
		return out
	})
}
