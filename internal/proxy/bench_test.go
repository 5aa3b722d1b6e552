package proxy_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/trace/noop"
	"golang.org/x/time/rate"

	"github.com/ztbroker/ztbroker/internal/lease"
	"github.com/ztbroker/ztbroker/internal/proxy"
	"github.com/ztbroker/ztbroker/internal/proxycred"
	"github.com/ztbroker/ztbroker/internal/scope"
	"github.com/ztbroker/ztbroker/internal/store"
	"github.com/ztbroker/ztbroker/internal/store/memstore"
	"github.com/ztbroker/ztbroker/internal/upstream"
)

// cannedCentral answers every forwarded call at once, without a socket,
// so that the benchmark sees the proxy's own work and allocations only.
type cannedCentral struct{}

func (cannedCentral) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body != nil {
		_, _ = io.Copy(io.Discard, r.Body)
		_ = r.Body.Close()
	}
	const body = `{"id":"` + netA + `","name":"bench","config":{"private":true}}`
	return &http.Response{
		StatusCode: http.StatusOK, ContentLength: int64(len(body)), Request: r,
		Header: http.Header{"Content-Type": {"application/json"}},
		Body:   io.NopCloser(strings.NewReader(body)),
	}, nil
}

// BenchmarkServeHTTP measures the proxy's part of a forwarded call, in
// process, with the in-memory store: its allocations per call are the
// figure to watch (time varies with the machine's load). The PostgreSQL
// lookup and the sockets are measured by scripts/bench-proxy.sh.
func BenchmarkServeHTTP(b *testing.B) {
	hc, err := upstream.NewHTTPClient(&http.Client{Transport: cannedCentral{}}, upstream.Options{Name: "new_central", RateLimit: -1, TracerProvider: noop.NewTracerProvider()})
	if err != nil {
		b.Fatal(err)
	}
	sc, err := scope.Compile("ci", scope.APIv2, spec, scope.Options{MaxBody: 4096})
	if err != nil {
		b.Fatal(err)
	}
	st := memstore.New()
	p, err := proxy.New(proxy.Config{
		Store:          st,
		TracerProvider: noop.NewTracerProvider(),
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
		Purposes: []*proxy.Purpose{{
			Name: "ci", Scope: sc, Limiter: rate.NewLimiter(rate.Inf, 1),
			Upstream: &proxy.Upstream{Name: "new_central", BaseURL: "http://central.invalid", Authorization: "Bearer " + secret, Secret: secret, Client: hc},
		}},
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p.Start(ctx)
	defer p.Stop()
	cred := benchLease(b, st)
	for _, bc := range []struct{ name, method, path, body string }{
		{"get", "GET", "/api/v2/network/" + netA, ""},
		{"update", "POST", "/api/v2/network/" + netA + "/member/" + memA, `{"name":"bench"}`},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				var body io.Reader
				if bc.body != "" {
					body = strings.NewReader(bc.body)
				}
				req := httptest.NewRequest(bc.method, "/zt/ci"+bc.path, body)
				req.Header.Set("Authorization", "Bearer "+cred)
				w := httptest.NewRecorder()
				p.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("%d %s", w.Code, w.Body)
				}
			}
		})
	}
}

func benchLease(b *testing.B, st store.Store) string {
	cred, err := proxycred.New(nil)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	res, err := st.CreatePending(ctx, store.CreatePendingParams{
		ID: "lease-bench", Purpose: "ci", Owner: "api_key:ci", Delivery: lease.DeliveryProxy,
		Upstream: lease.UpstreamNewCentral, UpstreamAccount: "sa", Now: now, Labels: map[string]string{"bench": "proxy"},
		ExpireTime: now.Add(time.Hour), MaxExpireTime: now.Add(time.Hour),
	})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := st.Activate(ctx, store.ActivateParams{ID: res.Lease.ID, TokenSHA256: lease.HashToken(cred), Now: now}); err != nil {
		b.Fatal(err)
	}
	return cred
}
