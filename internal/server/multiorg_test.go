package server_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/config"
	"github.com/ztbroker/ztbroker/internal/server"
	"github.com/ztbroker/ztbroker/internal/testing/pgtest"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator/emulatortest"
)

// sharedAccount is the service account id both organisations use: ids
// are unique within an organisation, not across them, and the broker must
// not confuse two accounts that only share an id.
const sharedAccount = "sa-shared"

// twoOrgsConfig names two New Central organisations (each its own
// emulator) and a Legacy account. The purpose "moving" is placed on
// whichever upstream the test says, to change the configuration under
// existing leases.
const twoOrgsConfig = `
listen: {grpc_addr: 127.0.0.1:0, http_addr: localhost:0}
database: {url: %q}
upstreams:
  - {name: prod, kind: new_central, base_url: %q, admin_key_env: PROD_KEY, service_account_id: %q, rate_limit: 1000}
%s
  - {name: old, kind: legacy, base_url: %q, token_env: PROD_KEY, user_id: %q}
purposes:
  - {name: deploy, upstream: prod, allow: {api_keys: [alice]}}
  - {name: audit, upstream: old, allow: {api_keys: [alice]}}
  - {name: moving, upstream: %s, allow: {api_keys: [alice]}}
%s
auth:
  api_keys:
    - {name: alice, sha256: %q}
    - {name: root, sha256: %q}
  admins: ["api_key:root"]
idempotency: {seal_key_env: SEAL_KEY}
`

// stagingYAML is the staging upstream and its purpose, left out of a
// configuration that no longer has it.
const stagingYAML = `  - {name: staging, kind: new_central, base_url: %q, admin_key_env: STAGING_KEY, service_account_id: %q, rate_limit: 1000}`

type twoOrgs struct {
	prod, staging    *emulatortest.Emulator
	dsn              string
	keyA, keyRoot    string
	sealKey          string
	logs             *syncBuffer
	db               *pgxpool.Pool
	secrets, tokens  []string
	brokersStarted   int
	lastMetricsScrap string
}

func newTwoOrgs(t *testing.T) *twoOrgs {
	t.Helper()
	o := &twoOrgs{
		prod:    emulatortest.Start(t, emulator.WithServiceAccounts(sharedAccount)),
		staging: emulatortest.Start(t, emulator.WithServiceAccounts(sharedAccount)),
		dsn:     pgtest.NewDatabase(t),
		keyA:    "ztb_alice_" + rand.Text(),
		keyRoot: "ztb_root_" + rand.Text(),
		sealKey: base64.StdEncoding.EncodeToString([]byte(rand.Text() + rand.Text())[:32]),
		logs:    &syncBuffer{},
	}
	if o.prod.AdminToken == o.staging.AdminToken {
		t.Fatal("the two organisations share an admin token; the test would prove nothing")
	}
	var err error
	if o.db, err = pgxpool.New(context.Background(), o.dsn); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(o.db.Close)
	o.secrets = []string{o.keyA, o.keyRoot, o.sealKey, o.prod.AdminToken, o.staging.AdminToken}
	return o
}

// orgBroker is one running broker on the two organisations.
type orgBroker struct {
	tb    ztbrokerv1.TokenBrokerClient
	admin ztbrokerv1.AdminServiceClient
	base  string
	stop  func()
}

// start runs a broker whose "moving" purpose is on movingOn; withStaging
// false leaves the staging upstream out of the configuration.
func (o *twoOrgs) start(t *testing.T, movingOn string, withStaging bool) *orgBroker {
	t.Helper()
	staging, stagingPurpose := "", ""
	if withStaging {
		staging = fmt.Sprintf(stagingYAML, o.staging.URL, sharedAccount)
		stagingPurpose = "  - {name: deploy-staging, upstream: staging, allow: {api_keys: [alice]}}"
	}
	text := fmt.Sprintf(twoOrgsConfig, o.dsn, o.prod.URL, sharedAccount, staging, o.prod.URL+"/api/v1", emulator.DefaultLegacyUser,
		movingOn, stagingPurpose, hash(o.keyA), hash(o.keyRoot))
	env := map[string]string{"PROD_KEY": o.prod.AdminToken, "STAGING_KEY": o.staging.AdminToken, "SEAL_KEY": o.sealKey}
	cfg, err := config.ParseWith("two-orgs", []byte(text), config.Options{LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	o.brokersStarted++
	log := slog.New(slog.NewJSONHandler(o.logs, &slog.HandlerOptions{Level: slog.LevelDebug})).With("broker", o.brokersStarted)
	ctx, cancel := context.WithCancel(context.Background())
	srv, err := server.Config{File: cfg, Logger: log}.Complete(ctx)
	if err != nil {
		cancel()
		t.Fatalf("complete: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	conn, err := grpc.NewClient(srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	b := &orgBroker{
		tb: ztbrokerv1.NewTokenBrokerClient(conn), admin: ztbrokerv1.NewAdminServiceClient(conn), base: "http://" + srv.HTTPAddr(),
		stop: func() {
			if stopped {
				return
			}
			stopped = true
			_ = conn.Close()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		},
	}
	t.Cleanup(b.stop)
	return b
}

func (o *twoOrgs) issue(ctx context.Context, t *testing.T, b *orgBroker, purpose string) *ztbrokerv1.IssueTokenResponse {
	t.Helper()
	r, err := b.tb.IssueToken(as(ctx, o.keyA), &ztbrokerv1.IssueTokenRequest{Purpose: purpose})
	if err != nil {
		t.Fatalf("issue %s: %v", purpose, err)
	}
	o.tokens = append(o.tokens, r.GetToken())
	return r
}

// alive reports whether each organisation accepts the token.
func (o *twoOrgs) alive(ctx context.Context, r *ztbrokerv1.IssueTokenResponse) (prod, staging bool) {
	return o.prod.TryToken(ctx, r.GetAuthScheme(), r.GetToken()) == http.StatusOK,
		o.staging.TryToken(ctx, r.GetAuthScheme(), r.GetToken()) == http.StatusOK
}

func (b *orgBroker) metrics(ctx context.Context, t *testing.T) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.base+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(body)
}

// TestTwoOrganisations: a staging purpose's lease is minted and revoked
// on staging only, though both organisations have a service account of
// the same id; the API, the database and the metrics name the upstream;
// rotating one upstream's admin key leaves the other's alone; and no
// secret of either organisation reaches the logs or the database.
func TestTwoOrganisations(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := testContext(t)
	b := o.start(t, "staging", true)

	prodLease := o.issue(ctx, t, b, "deploy")
	stagingLease := o.issue(ctx, t, b, "deploy-staging")
	legacyLease := o.issue(ctx, t, b, "audit")
	for _, c := range []struct {
		r              *ztbrokerv1.IssueTokenResponse
		upstream, kind string
		prod, staging  bool
	}{
		{prodLease, "prod", "new_central", true, false},
		{stagingLease, "staging", "new_central", false, true},
		{legacyLease, "old", "legacy", true, false},
	} {
		l := c.r.GetLease()
		if l.GetUpstream() != c.upstream || l.GetUpstreamKind() != c.kind {
			t.Errorf("lease of %s shows upstream %q kind %q, want %q %q", l.GetPurpose(), l.GetUpstream(), l.GetUpstreamKind(), c.upstream, c.kind)
		}
		var dbUpstream, dbKind string
		if err := o.db.QueryRow(ctx, `SELECT upstream, upstream_kind FROM leases WHERE id = $1`, l.GetId()).Scan(&dbUpstream, &dbKind); err != nil {
			t.Fatal(err)
		}
		if dbUpstream != c.upstream || dbKind != c.kind {
			t.Errorf("lease row of %s holds upstream %q kind %q, want %q %q", l.GetPurpose(), dbUpstream, dbKind, c.upstream, c.kind)
		}
		if p, s := o.alive(ctx, c.r); p != c.prod || s != c.staging {
			t.Errorf("token of %s works on prod %t, staging %t; want %t, %t", l.GetPurpose(), p, s, c.prod, c.staging)
		}
	}

	// Revoking the staging lease deletes on staging and nowhere else.
	prodDeletes := o.prod.Count(emulator.RouteV2DeleteKey, http.StatusOK) + o.prod.Count(emulator.RouteV2DeleteKey, http.StatusNoContent)
	rv, err := b.tb.RevokeLease(as(ctx, o.keyA), &ztbrokerv1.RevokeLeaseRequest{Id: stagingLease.GetLease().GetId()})
	if err != nil || rv.GetLease().GetState() != ztbrokerv1.Lease_STATE_REVOKED {
		t.Fatalf("revoke staging lease = %v, %v", rv.GetLease().GetState(), err)
	}
	if p, s := o.alive(ctx, stagingLease); p || s {
		t.Errorf("the revoked staging token still works: prod %t, staging %t", p, s)
	}
	if p, _ := o.alive(ctx, prodLease); !p {
		t.Error("revoking the staging lease killed the prod token")
	}
	if got := o.prod.Count(emulator.RouteV2DeleteKey, http.StatusOK) + o.prod.Count(emulator.RouteV2DeleteKey, http.StatusNoContent); got != prodDeletes {
		t.Errorf("revoking a staging lease sent %d deletes to prod", got-prodDeletes)
	}

	// The purposes and the admin credentials are listed by upstream name.
	ps, err := b.tb.ListPurposes(as(ctx, o.keyA), &ztbrokerv1.ListPurposesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	var purposes []string
	for _, p := range ps.GetPurposes() {
		purposes = append(purposes, p.GetName()+"@"+p.GetUpstream()+"/"+p.GetUpstreamKind())
	}
	if got, want := strings.Join(purposes, " "), "audit@old/legacy deploy@prod/new_central deploy-staging@staging/new_central moving@staging/new_central"; got != want {
		t.Errorf("purposes = %s, want %s", got, want)
	}
	ups, err := b.admin.ListUpstreams(as(ctx, o.keyRoot), &ztbrokerv1.ListUpstreamsRequest{})
	if err != nil {
		t.Fatal(err)
	}
	keyOf := map[string]string{}
	for _, u := range ups.GetUpstreams() {
		keyOf[u.GetUpstream()] = u.GetKeyId()
	}
	if keyOf["prod"] != o.prod.AdminKeyID() || keyOf["staging"] != o.staging.AdminKeyID() || len(keyOf) != 3 {
		t.Errorf("admin keys by upstream = %v, want prod %s, staging %s and old", keyOf, o.prod.AdminKeyID(), o.staging.AdminKeyID())
	}

	// Rotating staging's admin key mints and switches on staging alone.
	rot, err := b.admin.RotateUpstreamKey(as(ctx, o.keyRoot), &ztbrokerv1.RotateUpstreamKeyRequest{Upstream: "staging"})
	if err != nil {
		t.Fatalf("rotate staging: %v", err)
	}
	r := rot.GetRotation()
	if r.GetUpstream() != "staging" || r.GetOldKeyId() != o.staging.AdminKeyID() || r.GetNewKeyId() == "" {
		t.Fatalf("rotation = %v", r)
	}
	if !hasKey(o.staging.Tokens(), r.GetNewKeyId()) || hasKey(o.prod.Tokens(), r.GetNewKeyId()) {
		t.Errorf("staging's new admin key %s: on staging %t, on prod %t; want only staging", r.GetNewKeyId(),
			hasKey(o.staging.Tokens(), r.GetNewKeyId()), hasKey(o.prod.Tokens(), r.GetNewKeyId()))
	}
	if o.prod.TryNewCentralToken(ctx, "Bearer", o.prod.AdminToken) != http.StatusOK {
		t.Error("rotating staging's key disturbed prod's admin key")
	}
	// The audit trail names the upstream of each event: the staging
	// lease's, and the rotation's.
	audit, err := b.admin.ListAuditEvents(as(ctx, o.keyRoot), &ztbrokerv1.ListAuditEventsRequest{PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	byAction := map[string]string{}
	for _, e := range audit.GetEvents() {
		if e.GetLeaseId() == stagingLease.GetLease().GetId() || strings.HasPrefix(e.GetAction(), "admin_key_") {
			byAction[e.GetAction()] += e.GetUpstream() + " "
		}
	}
	for _, action := range []string{"issue", "revoke", "admin_key_rotation_started", "admin_key_rotated"} {
		if got := strings.TrimSpace(byAction[action]); got != "staging" {
			t.Errorf("audit events %s name upstream %q, want staging", action, got)
		}
	}

	// An admin can ask for one upstream's events, over gRPC and REST.
	only, err := b.admin.ListAuditEvents(as(ctx, o.keyRoot), &ztbrokerv1.ListAuditEventsRequest{PageSize: 100, Upstream: "staging"})
	if err != nil {
		t.Fatal(err)
	}
	var rest struct {
		Events []struct {
			Upstream string `json:"upstream"`
		} `json:"events"`
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.base+"/v1/admin/audit?page_size=100&upstream=staging", nil)
	req.Header.Set("Authorization", "Bearer "+o.keyRoot)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	err = json.NewDecoder(resp.Body).Decode(&rest)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /v1/admin/audit?upstream=staging: %d, %v", resp.StatusCode, err)
	}
	if len(rest.Events) != len(only.GetEvents()) {
		t.Errorf("filtered by upstream: %d events over gRPC, %d over REST; want the same", len(only.GetEvents()), len(rest.Events))
	}
	actions := map[string]bool{}
	for _, e := range only.GetEvents() {
		actions[e.GetAction()] = true
		if e.GetUpstream() != "staging" {
			t.Errorf("filtered by upstream staging, got event %s of upstream %q", e.GetAction(), e.GetUpstream())
		}
	}
	for _, action := range []string{"issue", "revoke", "admin_rotate_upstream_key", "admin_key_rotation_started", "admin_key_rotated"} {
		if !actions[action] {
			t.Errorf("filtered by upstream staging: no %s event", action)
		}
	}
	for _, e := range rest.Events {
		if e.Upstream != "staging" {
			t.Errorf("REST, filtered by upstream staging, got an event of upstream %q", e.Upstream)
		}
	}

	// A request naming no upstream is audited, but under no upstream.
	if _, err := b.admin.RotateUpstreamKey(as(ctx, o.keyRoot), &ztbrokerv1.RotateUpstreamKeyRequest{Upstream: "nosuch"}); status.Code(err) != codes.NotFound {
		t.Fatalf("rotating an unknown upstream: %v, want NOT_FOUND", err)
	}
	if none, err := b.admin.ListAuditEvents(as(ctx, o.keyRoot), &ztbrokerv1.ListAuditEventsRequest{PageSize: 10, Upstream: "nosuch"}); err != nil || len(none.GetEvents()) != 0 {
		t.Errorf("events filed under an upstream that does not exist: %v, %v", none.GetEvents(), err)
	}

	// Both upstreams still mint, staging with its new key.
	o.issue(ctx, t, b, "deploy-staging")
	o.issue(ctx, t, b, "deploy")

	m := b.metrics(ctx, t)
	for _, want := range []string{
		`ztbroker_upstream_request_duration_seconds_count{operation="mint",status="200",upstream="staging"} 2`,
		`ztbroker_upstream_request_duration_seconds_count{operation="mint",status="200",upstream="prod"} 2`,
		`ztbroker_upstream_request_duration_seconds_count{operation="delete",status="200",upstream="staging"} 1`,
		`ztbroker_upstream_credential_expiry_seconds{upstream="staging"}`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(m, `operation="delete",status="200",upstream="prod"`) {
		t.Error("prod was sent a delete")
	}
	b.stop()

	dump := dumpDatabase(t, &harness{db: o.db})
	for place, text := range map[string]string{"logs": o.logs.String(), "database": dump, "metrics": m} {
		for i, s := range append(o.secrets, o.tokens...) {
			if s == "" || strings.Contains(text, s) {
				t.Errorf("%s contains secret #%d (or it is empty)", place, i)
			}
		}
	}
	if !strings.Contains(o.logs.String(), `"upstream":"staging"`) {
		t.Error("no log line names the staging upstream, so the search above proves little")
	}
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func hasKey(g emulator.GroundTruth, id string) bool {
	for _, a := range g.ServiceAccounts {
		for _, k := range a.Keys {
			if k.ID == id && k.Alive {
				return true
			}
		}
	}
	return false
}

// TestRevocationFollowsTheLease: a lease is revoked on the upstream that
// minted it, whatever the configuration says of its purpose today; and a
// lease whose upstream is gone from the configuration is never called
// revoked: it stays revoke_failed, alarmed, with its token alive.
func TestRevocationFollowsTheLease(t *testing.T) {
	t.Parallel()
	o := newTwoOrgs(t)
	ctx := testContext(t)

	first := o.start(t, "staging", true)
	moved := o.issue(ctx, t, first, "moving")
	stranded := o.issue(ctx, t, first, "deploy-staging")
	first.stop()

	// The purpose now mints on prod; its old lease is still staging's.
	second := o.start(t, "prod", true)
	if got := o.issue(ctx, t, second, "moving").GetLease().GetUpstream(); got != "prod" {
		t.Errorf("moving now mints on %q, want prod", got)
	}
	rv, err := second.tb.RevokeLease(as(ctx, o.keyA), &ztbrokerv1.RevokeLeaseRequest{Id: moved.GetLease().GetId()})
	if err != nil || rv.GetLease().GetState() != ztbrokerv1.Lease_STATE_REVOKED {
		t.Fatalf("revoke the moved purpose's old lease = %v, %v", rv.GetLease().GetState(), err)
	}
	if p, s := o.alive(ctx, moved); p || s {
		t.Errorf("the moved purpose's old token still works: prod %t, staging %t", p, s)
	}
	second.stop()

	// Staging is gone from the configuration: its lease cannot be revoked.
	third := o.start(t, "prod", false)
	// Its purpose went with it, so only an admin may still act on it.
	rv, err = third.tb.RevokeLease(as(ctx, o.keyRoot), &ztbrokerv1.RevokeLeaseRequest{Id: stranded.GetLease().GetId()})
	if err == nil && rv.GetLease().GetState() == ztbrokerv1.Lease_STATE_REVOKED {
		t.Fatal("a lease whose upstream is not configured was called revoked")
	}
	var state string
	if err := o.db.QueryRow(ctx, `SELECT state FROM leases WHERE id = $1`, stranded.GetLease().GetId()).Scan(&state); err != nil {
		t.Fatal(err)
	}
	if state != "revoke_failed" {
		t.Errorf("the stranded lease is %s, want revoke_failed", state)
	}
	if _, s := o.alive(ctx, stranded); !s {
		t.Error("the stranded token no longer works on staging, yet nothing could have revoked it")
	}
	// The fast path and the durable one each tried, and each alarmed.
	if m := third.metrics(ctx, t); !strings.Contains(m, `ztbroker_revoke_unconfigured_upstream_total{upstream="staging"} 2`) {
		t.Errorf("no alarm for the unconfigured upstream in the metrics:\n%s", grepLines(m, "unconfigured"))
	}
	if !strings.Contains(o.logs.String(), "lease's upstream is not configured") {
		t.Error("no error log line for the unconfigured upstream")
	}
}
