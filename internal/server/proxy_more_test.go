package server_test

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/upstream/emulator"
)

// clock is a settable time source shared by the server and the test.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Now().UTC().Truncate(time.Second)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// idleRevoker is a store in which the revoker never finds work, so that
// whatever the proxy refuses after expiry it refuses on its own.
type idleRevoker struct{ store.Store }

func (idleRevoker) ClaimDue(context.Context, store.ClaimDueParams) ([]*lease.Lease, error) {
	return nil, nil
}

// TestProxyRefusesAtExpiryWhateverTheRevoker: the first call after a
// proxy lease expires is refused by the broker itself while the lease row
// still says active; a renewal moves that moment, at once.
func TestProxyRefusesAtExpiryWhateverTheRevoker(t *testing.T) {
	t.Parallel()
	c := newClock()
	h := setupScoped(t, withNow(c.Now), withStore(func(s store.Store) store.Store { return idleRevoker{s} }))
	ctx := testContext(t)
	for _, a := range h.apis() {
		issued, err := a.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeScoped, Ttl: durationpb.New(time.Minute)})
		_ = issued
		if err != nil {
			t.Fatal(err)
		}
		id := issued.GetLease().GetId()
		get := func() (int, string) {
			st, b := h.zt(ctx, issued, "GET", "/api/v2/network/"+netA, "")
			return st, message(b)
		}
		if st, msg := get(); st != http.StatusOK {
			t.Fatalf("%s: before expiry: %d %s", a.name(), st, msg)
		}
		c.Advance(59 * time.Second)
		if _, err := a.renew(ctx, h.keyA, &ztbrokerv1.RenewLeaseRequest{Id: id, Ttl: durationpb.New(2 * time.Minute)}); err != nil {
			t.Fatalf("renew: %v", err)
		}
		c.Advance(time.Minute) // past the first expiry, inside the renewed one
		if st, msg := get(); st != http.StatusOK {
			t.Errorf("%s: after renewal: %d %s", a.name(), st, msg)
		}
		c.Advance(time.Minute)
		if st, msg := get(); st != http.StatusUnauthorized || msg != "the lease of this credential has ended" {
			t.Errorf("%s: first call after expiry: %d %s", a.name(), st, msg)
		}
		if state, _, _ := h.dbLease(t, id); state != "active" {
			t.Errorf("%s: the lease is %s; the test means to show the proxy refusing while it is still active", a.name(), state)
		}
	}
}

// TestProxyReplaysItsCredential: an idempotent retry of a proxy issue gets
// the same broker credential, as for tokens.
func TestProxyReplaysItsCredential(t *testing.T) {
	t.Parallel()
	h := setupScoped(t)
	ctx := testContext(t)
	req := &ztbrokerv1.IssueTokenRequest{Purpose: purposeScopedLegacy, IdempotencyKey: "job-42"}
	first, err := restAPI{h}.issue(ctx, h.keyA, req)
	if err != nil {
		t.Fatal(err)
	}
	again, err := grpcAPI{h}.issue(ctx, h.keyA, req)
	if err != nil {
		t.Fatal(err)
	}
	if !again.GetReplayed() || again.GetToken() != first.GetToken() || again.GetApiBaseUrl() != first.GetApiBaseUrl() || again.GetAuthScheme() != "token" {
		t.Errorf("replay: replayed=%v same token=%v base %q scheme %q", again.GetReplayed(), again.GetToken() == first.GetToken(), again.GetApiBaseUrl(), again.GetAuthScheme())
	}
	if st, b := h.zt(ctx, again, "GET", "/network/"+netA, ""); st != http.StatusOK {
		t.Errorf("replayed credential: %d %s", st, b)
	}
}

// TestProxyRateLimits: a purpose over its share gets 429 with Retry-After
// from the broker, Central never sees the excess, and no flood through the
// proxy makes Central answer 429 to anyone.
func TestProxyRateLimits(t *testing.T) {
	t.Parallel()
	const slow = `
  - name: scoped-slow
    delivery: proxy
    upstream: {kind: new_central, service_account_id: sa-emulator}
    allow: {api_keys: [alice]}
    scope:
      rate_limit: 0.01
      burst: 1
      rules: [{name: read, operations: ["GET /api/v2/network/{network}"]}]
`
	h := setupScoped(t, withYAML("", "", slow), withUpstreamRate(20), withEmulator(emulator.WithRateLimit(20)))
	ctx := testContext(t)
	issue := func(purpose string) *ztbrokerv1.IssueTokenResponse {
		r, err := grpcAPI{h}.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purpose})
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	s := issue("scoped-slow")
	before := h.emu.Count(emulator.RouteV2GetNetwork, 200)
	if st, b := h.zt(ctx, s, "GET", "/api/v2/network/"+netA, ""); st != 200 {
		t.Fatalf("first call: %d %s", st, b)
	}
	st, hdr, b := h.ztRaw(ctx, s.GetApiBaseUrl()+"/api/v2/network/"+netA, "Bearer "+s.GetToken(), "GET", "", nil)
	if st != http.StatusTooManyRequests || hdr.Get("Retry-After") == "" || !strings.Contains(message(b), "share") {
		t.Errorf("second call: %d Retry-After %q %s", st, hdr.Get("Retry-After"), b)
	}
	if n := h.emu.Count(emulator.RouteV2GetNetwork, 200) - before; n != 1 {
		t.Errorf("the emulator served %d calls, want 1", n)
	}

	// A flood on the scoped purpose, while another caller issues tokens on
	// the same upstream: the broker throttles the flood itself.
	flood := issue(purposeScoped)
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[int]int{}
	for range 60 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			st, _ := h.zt(ctx, flood, "GET", "/api/v2/network/"+netA, "")
			mu.Lock()
			statuses[st]++
			mu.Unlock()
		}()
	}
	for range 5 {
		if _, err := (grpcAPI{h}).issue(ctx, h.keyB, &ztbrokerv1.IssueTokenRequest{Purpose: purposeNC}); err != nil {
			t.Errorf("another caller's issue during the flood: %v", err)
		}
	}
	wg.Wait()
	if statuses[http.StatusTooManyRequests] == 0 || statuses[200] == 0 {
		t.Errorf("flood statuses %v: want some served and some throttled by the broker", statuses)
	}
	for route, byStatus := range h.emu.Counters() {
		if n := byStatus[http.StatusTooManyRequests]; n > 0 {
			t.Errorf("Central answered 429 %d times on %s", n, route)
		}
	}
}

// TestProxyCancelsTheUpstreamCallWhenTheCallerHangsUp holds the upstream
// call in the emulator, hangs up, and waits for the emulator to see its
// request cancelled: long before the broker's own one-minute timeout.
func TestProxyCancelsTheUpstreamCallWhenTheCallerHangsUp(t *testing.T) {
	t.Parallel()
	h := setupScoped(t, withUpstreamTimeout(time.Minute), withEmulator(emulator.WithFault(emulator.RouteV2GetNetwork, emulator.Fault{Hang: true})))
	ctx := testContext(t)
	issued, err := grpcAPI{h}.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeScoped})
	if err != nil {
		t.Fatal(err)
	}
	cctx, hangUp := context.WithCancel(ctx)
	done := make(chan int, 1)
	go func() {
		st, _ := h.zt(cctx, issued, "GET", "/api/v2/network/"+netA, "")
		done <- st
	}()
	for h.emu.InFlight(emulator.RouteV2GetNetwork) == 0 {
		waitBriefly(ctx)
		if ctx.Err() != nil {
			t.Fatal("the call never reached the emulator")
		}
	}
	hangUp()
	<-done
	// The hang fault answers 504 once its request's context ends, which
	// only the broker cancelling the upstream call does this soon.
	for h.emu.Count(emulator.RouteV2GetNetwork, http.StatusGatewayTimeout) == 0 {
		waitBriefly(ctx)
		if ctx.Err() != nil {
			t.Fatal("the upstream call was not cancelled")
		}
	}
}

// TestProxyAuditMetricsAndSpans: a change is audited with its operation,
// resources, status and latency; reads and refusals are sampled; metrics
// and spans name the purpose, route and lease.
func TestProxyAuditMetricsAndSpans(t *testing.T) {
	t.Parallel()
	h := setupScoped(t)
	ctx := testContext(t)
	issued, err := restAPI{h}.issue(ctx, h.keyA, &ztbrokerv1.IssueTokenRequest{Purpose: purposeScoped})
	if err != nil {
		t.Fatal(err)
	}
	id := issued.GetLease().GetId()
	m := memberID(9)
	for range 3 {
		h.zt(ctx, issued, "GET", "/api/v2/network/"+netA, "")
	}
	if st, b := h.zt(ctx, issued, "POST", "/api/v2/network/"+netA+"/member/"+m+"/authorize", ""); st != 200 {
		t.Fatalf("authorize: %d %s", st, b)
	}
	for range 2 {
		h.zt(ctx, issued, "DELETE", "/api/v2/network/"+netA, "")
	}
	metrics := h.scrape(t, ctx)
	for _, want := range []string{
		`ztbroker_proxy_requests_total{purpose="scoped",route="/api/v2/network/{network}",status="200"} 3`,
		`ztbroker_proxy_requests_total{purpose="scoped",route="/api/v2/network/{network}/member/{member}/authorize",status="200"} 1`,
		`ztbroker_proxy_requests_total{purpose="scoped",route="/api/v2/network/{network}",status="403"} 2`,
		`ztbroker_proxy_denied_total{purpose="scoped",reason="no_rule"} 2`,
		`ztbroker_proxy_added_latency_seconds_count{purpose="scoped"} 4`,
		`ztbroker_upstream_request_duration_seconds_count{operation="proxy",status="200",upstream="new_central"} 4`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	var spanOK bool
	for _, s := range h.spans.Ended() {
		if s.Name() != "proxy POST /api/v2/network/{network}/member/{member}/authorize" {
			continue
		}
		for _, kv := range s.Attributes() {
			if kv.Key == "ztbroker.lease_id" && kv.Value.AsString() == id {
				spanOK = true
			}
		}
	}
	if !spanOK {
		t.Error("no span for the authorise call carrying the lease id")
	}

	// Stopping drains the audit writer: every event is in the table.
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	rows, err := h.db.Query(context.Background(), `SELECT action, result, reason, actor_kind || ':' || actor_subject FROM audit_events WHERE lease_id = $1 AND action LIKE 'proxy%' ORDER BY id`, id)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for rows.Next() {
		var action, result, reason, actor string
		if err := rows.Scan(&action, &result, &reason, &actor); err != nil {
			t.Fatal(err)
		}
		if actor != "api_key:alice" {
			t.Errorf("%s recorded for %s", action, actor)
		}
		// Latency varies; the rest is exact.
		reason = latency.ReplaceAllString(reason, "")
		got = append(got, action+" "+result+" "+reason)
	}
	want := []string{
		"proxy_read ok GET /api/v2/network/{network} network=" + netA + " status=200",
		"proxy_call ok POST /api/v2/network/{network}/member/{member}/authorize network=" + netA + " member=" + m + " status=200",
		"proxy_deny denied DELETE /api/v2/network/{network} network=" + netA + " status=403 no_rule",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

var latency = regexp.MustCompile(` upstream_ms=[0-9.]+`)

func (h *harness) scrape(t testing.TB, ctx context.Context) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, h.base+"/metrics", nil)
	resp, err := h.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}
