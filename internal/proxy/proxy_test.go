package proxy_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/proxy"
	"github.com/ztbroker/ztbroker/internal/proxycred"
	"github.com/ztbroker/ztbroker/internal/scope"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/store/memstore"
	"github.com/ztbroker/ztbroker/internal/upstream"
)

const (
	netA   = "8056c2e21c000001"
	memA   = "deadbeef00"
	secret = "upstream-admin-secret-0123456789"
)

// fakeCentral records what reaches it and answers what the test says.
type fakeCentral struct {
	mu     sync.Mutex
	seen   []*http.Request
	bodies []string
	answer func(w http.ResponseWriter, r *http.Request)
}

func (f *fakeCentral) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	f.seen = append(f.seen, r)
	f.bodies = append(f.bodies, string(b))
	answer := f.answer
	f.mu.Unlock()
	answer(w, r)
}

func (f *fakeCentral) set(answer func(w http.ResponseWriter, r *http.Request)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.answer = answer
}

// syncBuffer collects log lines written by handler goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func (f *fakeCentral) last(t *testing.T) (*http.Request, string) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.seen) == 0 {
		t.Fatal("nothing reached Central")
	}
	return f.seen[len(f.seen)-1], f.bodies[len(f.bodies)-1]
}

func (f *fakeCentral) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.seen)
}

type bench struct {
	p       *proxy.Proxy
	srv     *httptest.Server
	central *fakeCentral
	st      store.Store
	cred    string
	lease   *lease.Lease
	logs    *syncBuffer
}

var spec = scope.Spec{
	Networks: []string{netA},
	Rules: []scope.RuleSpec{
		{Name: "list", Operations: []string{"GET /api/v2/network"}, Query: []string{"stats"}},
		{Name: "read", Operations: []string{"GET /api/v2/network/{network}"}},
		{Name: "write", Operations: []string{"POST /api/v2/network/{network}/member/{member}"}},
	},
}

func setup(t *testing.T, mods ...func(*proxy.Config)) *bench {
	t.Helper()
	b := &bench{central: &fakeCentral{answer: func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"id":"`+netA+`"}`)
	}}, st: memstore.New(), logs: &syncBuffer{}}
	up := httptest.NewServer(b.central)
	t.Cleanup(up.Close)
	hc, err := upstream.NewHTTPClient(up.Client(), upstream.Options{Name: "new_central", RateLimit: -1})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scope.Compile("ci", scope.APIv2, spec, scope.Options{MaxBody: 256})
	if err != nil {
		t.Fatal(err)
	}
	cfg := proxy.Config{
		Store:  b.st,
		Logger: slog.New(slog.NewJSONHandler(b.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Purposes: []*proxy.Purpose{{
			Name: "ci", Scope: sc, Limiter: rate.NewLimiter(rate.Inf, 1),
			Upstream: &proxy.Upstream{Name: "new_central", BaseURL: up.URL, Authorization: "Bearer " + secret, Secret: secret, Client: hc},
		}},
		MaxResponseBytes: 1024,
	}
	for _, m := range mods {
		m(&cfg)
	}
	b.p, err = proxy.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b.p.Start(t.Context())
	t.Cleanup(b.p.Stop)
	b.srv = httptest.NewServer(b.p)
	t.Cleanup(b.srv.Close)
	b.cred, b.lease = b.issue(t)
	return b
}

// issue writes an active proxy lease as the broker does.
func (b *bench) issue(t *testing.T) (string, *lease.Lease) {
	t.Helper()
	cred, err := proxycred.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	res, err := b.st.CreatePending(t.Context(), store.CreatePendingParams{
		ID: "lease-" + cred[5:13], Purpose: "ci", Owner: "api_key:ci", Delivery: lease.DeliveryProxy,
		Upstream: lease.UpstreamNewCentral, UpstreamAccount: "sa", Now: now,
		ExpireTime: now.Add(time.Hour), MaxExpireTime: now.Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := b.st.Activate(t.Context(), store.ActivateParams{ID: res.Lease.ID, TokenSHA256: lease.HashToken(cred), Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return cred, l
}

func (b *bench) do(t *testing.T, method, path, body string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, b.srv.URL+"/zt/ci"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if req.Header.Get("Authorization") == "" {
		req.Header.Set("Authorization", "Bearer "+b.cred)
	}
	resp, err := b.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp, string(out)
}

func TestForwardsOnlyWhatWasChecked(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, body := b.do(t, "POST", "/api/v2/network/"+netA+"/member/"+memA, `{"name":  "r1"}`, http.Header{
		"Connection":          {"keep-alive, X-Secret-Hop"},
		"X-Secret-Hop":        {"hop"},
		"Keep-Alive":          {"timeout=5"},
		"Proxy-Authorization": {"Basic abc"},
		"Te":                  {"trailers"},
		"Upgrade":             {"websocket"},
		"X-Forwarded-For":     {"10.0.0.1"},
		"Cookie":              {"session=1"},
		"X-Zt1-Auth":          {"local-token"},
		"Content-Type":        {"text/plain"},
	})
	if resp.StatusCode != 200 || body != `{"id":"`+netA+`"}` {
		t.Fatalf("got %d %s", resp.StatusCode, body)
	}
	r, sent := b.central.last(t)
	if r.URL.RequestURI() != "/api/v2/network/"+netA+"/member/"+memA || r.Method != "POST" || sent != `{"name":"r1"}` {
		t.Errorf("Central got %s %s %s", r.Method, r.URL.RequestURI(), sent)
	}
	if got := r.Header.Get("Authorization"); got != "Bearer "+secret {
		t.Errorf("Central got Authorization %q", got)
	}
	for k := range r.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Authorization", "Accept", "Content-Type", "Content-Length", "User-Agent", "Accept-Encoding", "Traceparent":
		default:
			t.Errorf("caller header %s reached Central", k)
		}
	}
	if r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("Content-Type %q", r.Header.Get("Content-Type"))
	}
}

func TestPassesOnlySafeResponseHeadersAndCentralErrors(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.central.set(func(w http.ResponseWriter, _ *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Set-Cookie", "central=1")
		h.Set("Connection", "close")
		h.Set("X-Ratelimit-Remaining", "3")
		h.Set("Retry-After", "2")
		h.Set("X-Internal", "nope")
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"message":"network not found"}`)
	})
	resp, body := b.do(t, "GET", "/api/v2/network/"+netA, "", nil)
	if resp.StatusCode != 404 || body != `{"message":"network not found"}` {
		t.Fatalf("got %d %s", resp.StatusCode, body)
	}
	if resp.Header.Get("Set-Cookie") != "" || resp.Header.Get("X-Internal") != "" {
		t.Errorf("unlisted headers passed: %v", resp.Header)
	}
	if resp.Header.Get("X-Ratelimit-Remaining") != "3" || resp.Header.Get("Retry-After") != "2" {
		t.Errorf("rate-limit headers lost: %v", resp.Header)
	}
}

func TestBodyLimits(t *testing.T) {
	t.Parallel()
	b := setup(t)
	resp, _ := b.do(t, "POST", "/api/v2/network/"+netA+"/member/"+memA, `{"name":"`+strings.Repeat("x", 300)+`"}`, nil)
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("large request: %d", resp.StatusCode)
	}
	if n := b.central.count(); n != 0 {
		t.Errorf("%d requests reached Central", n)
	}

	b.central.set(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Length", "2000")
		_, _ = w.Write(bytes.Repeat([]byte("a"), 2000))
	})
	resp, body := b.do(t, "GET", "/api/v2/network/"+netA, "", nil)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "exceeds") {
		t.Errorf("large response with a length: %d %s", resp.StatusCode, body)
	}
	b.central.set(func(w http.ResponseWriter, _ *http.Request) {
		w.(http.Flusher).Flush() // no Content-Length: streamed
		for range 4 {
			_, _ = w.Write(bytes.Repeat([]byte("a"), 500))
		}
	})
	req, _ := http.NewRequestWithContext(t.Context(), "GET", b.srv.URL+"/zt/ci/api/v2/network/"+netA, nil)
	req.Header.Set("Authorization", "Bearer "+b.cred)
	r2, err := b.srv.Client().Do(req)
	if err == nil {
		_, err = io.ReadAll(r2.Body)
		r2.Body.Close()
	}
	if err == nil {
		t.Error("a streamed response over the limit arrived whole")
	}
}

func TestCutsOffAResponseCarryingTheUpstreamSecret(t *testing.T) {
	t.Parallel()
	b := setup(t)
	for name, answer := range map[string]func(w http.ResponseWriter, r *http.Request){
		"whole": func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, `{"echo":"`+r.Header.Get("Authorization")+`"}`)
		},
		"split across writes": func(w http.ResponseWriter, _ *http.Request) {
			_, _ = io.WriteString(w, `{"echo":"`+secret[:10])
			w.(http.Flusher).Flush()
			_, _ = io.WriteString(w, secret[10:]+`"}`)
		},
	} {
		b.central.set(answer)
		req, _ := http.NewRequestWithContext(t.Context(), "GET", b.srv.URL+"/zt/ci/api/v2/network/"+netA, nil)
		req.Header.Set("Authorization", "Bearer "+b.cred)
		resp, err := b.srv.Client().Do(req)
		var got []byte
		if err == nil {
			got, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if bytes.Contains(got, []byte(secret)) {
			t.Errorf("%s: the caller saw the upstream secret", name)
		}
	}
	if !strings.Contains(b.logs.String(), "response cut off") || strings.Contains(b.logs.String(), secret) {
		t.Error("the cut-off was not logged, or was logged with the secret")
	}
}

func TestListsAreFilteredOrWithheld(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.central.set(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, `{"items":[{"id":"`+netA+`"},{"id":"8056c2e21c000002"}],"stats":{"authorizedDevices":9}}`)
	})
	resp, body := b.do(t, "GET", "/api/v2/network?stats=true", "", nil)
	if resp.StatusCode != 200 || body != `{"items":[{"id":"`+netA+`"}]}` {
		t.Errorf("filtered list: %d %s", resp.StatusCode, body)
	}
	if r, _ := b.central.last(t); r.URL.RawQuery != "stats=true" {
		t.Errorf("query forwarded as %q", r.URL.RawQuery)
	}
	b.central.set(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, `<html>`) })
	resp, body = b.do(t, "GET", "/api/v2/network", "", nil)
	if resp.StatusCode != http.StatusBadGateway || strings.Contains(body, "html") {
		t.Errorf("unfilterable list: %d %s", resp.StatusCode, body)
	}
}

func TestUpstreamFailures(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.central.set(func(w http.ResponseWriter, _ *http.Request) {
		panic(http.ErrAbortHandler) // the connection drops with no answer
	})
	resp, body := b.do(t, "GET", "/api/v2/network/"+netA, "", nil)
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(body, "could not be reached") {
		t.Errorf("dropped connection: %d %s", resp.StatusCode, body)
	}
}

func TestAuditIsWrittenAfterTheAnswerAndDrainedOnStop(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *proxy.Config) { c.ReadAuditInterval = time.Hour })
	for range 3 {
		b.do(t, "POST", "/api/v2/network/"+netA+"/member/"+memA, `{"name":"r"}`, nil)
		b.do(t, "GET", "/api/v2/network/"+netA, "", nil)
	}
	b.p.Stop()
	res, err := b.st.ListAudit(context.Background(), store.ListAuditParams{LeaseID: b.lease.ID, PageSize: 100})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, e := range res.Events {
		count[e.Action]++
		if e.TokenSHA256 != b.lease.TokenSHA256 || e.ActorKind != "api_key" || e.ActorSubject != "ci" {
			t.Errorf("event %+v", e)
		}
		if (e.Action == proxy.ActionCall || e.Action == proxy.ActionRead) && e.Upstream != "new_central" {
			t.Errorf("%s event names upstream %q, want new_central", e.Action, e.Upstream)
		}
	}
	if count[proxy.ActionCall] != 3 || count[proxy.ActionRead] != 1 {
		t.Errorf("audit counts %v: want every change and one sampled read", count)
	}
}
