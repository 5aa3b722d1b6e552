package upstream_test

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"

	"github.com/ztbroker/ztbroker/internal/upstream"
)

type transportBundle struct {
	clock *manualClock
	lim   *upstream.Limiter
	reg   *prometheus.Registry
	hc    *http.Client
	hits  *atomic.Int32
	url   string
}

// setupTransport serves h and returns a decorated client for it.
func setupTransport(t *testing.T, h http.HandlerFunc, mod func(*upstream.Options)) *transportBundle {
	t.Helper()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		h(w, r)
	}))
	t.Cleanup(srv.Close)
	clock := newManualClock()
	b := &transportBundle{
		clock: clock, lim: upstream.NewLimiter(-1, 0, clock),
		reg: prometheus.NewRegistry(), hits: &hits, url: srv.URL,
	}
	o := upstream.Options{Name: "test", Limiter: b.lim, Clock: clock, Registerer: b.reg}
	if mod != nil {
		mod(&o)
	}
	hc, err := upstream.NewHTTPClient(srv.Client(), o)
	if err != nil {
		t.Fatalf("NewHTTPClient: %v", err)
	}
	b.hc = hc
	return b
}

func (b *transportBundle) get(ctx context.Context) (*upstream.Response, error) {
	return upstream.Send(ctx, b.hc, upstream.Request{Op: "list", Method: http.MethodGet, URL: b.url + "/x"})
}

func TestThrottlePausesTheUpstream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		header map[string]string
		want   time.Duration
	}{
		{"retry-after", map[string]string{"Retry-After": "7"}, 7 * time.Second},
		{"x-ratelimit-reset", map[string]string{
			"Date": "Tue, 06 Aug 2024 20:53:40 GMT", "X-Ratelimit-Reset": "Tue, 06 Aug 2024 20:53:48 UTC",
		}, 8 * time.Second},
		{"no header", nil, upstream.DefaultThrottlePause},
		{"capped", map[string]string{"Retry-After": "86400"}, upstream.DefaultMaxPause},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setupTransport(t, func(w http.ResponseWriter, _ *http.Request) {
				for k, v := range tt.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(http.StatusTooManyRequests)
			}, nil)
			start := b.clock.Now()
			resp, err := b.get(context.Background())
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			if got := b.lim.PausedUntil().Sub(start); got != tt.want {
				t.Errorf("paused for %v, want %v", got, tt.want)
			}
			uerr := resp.Error("list", b.clock.Now())
			if !uerr.Retryable || uerr.StatusCode != http.StatusTooManyRequests {
				t.Errorf("error %v: want a retryable 429", uerr)
			}
			if out := metricsText(t, b.reg); !strings.Contains(out, `ztbroker_upstream_throttled_total{upstream="test"} 1`) {
				t.Errorf("throttled counter not 1:\n%s", out)
			}

			// While paused, a call whose deadline ends first fails without
			// reaching the server and says how long to wait.
			ctx, cancel := context.WithTimeout(context.Background(), tt.want/2)
			defer cancel()
			_, err = b.get(ctx)
			if !upstream.IsRetryable(err) || upstream.RetryAfterOf(err) != tt.want {
				t.Errorf("call while paused = %v (retry after %v), want retryable after %v",
					err, upstream.RetryAfterOf(err), tt.want)
			}
			if got := b.hits.Load(); got != 1 {
				t.Errorf("server saw %d requests, want 1", got)
			}
		})
	}
}

func metricsText(t *testing.T, reg *prometheus.Registry) string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather: %v", err)
	}
	var buf bytes.Buffer
	enc := expfmt.NewEncoder(&buf, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		if err := enc.Encode(mf); err != nil {
			t.Fatalf("Encode: %v", err)
		}
	}
	return buf.String()
}

func TestTimeoutIsRetryable(t *testing.T) {
	t.Parallel()
	b := setupTransport(t, func(_ http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}, func(o *upstream.Options) { o.Timeout = 20 * time.Millisecond })
	_, err := b.get(context.Background())
	if !upstream.IsRetryable(err) || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("get = %v, want a retryable deadline error", err)
	}
}

func TestMetricsLabels(t *testing.T) {
	t.Parallel()
	b := setupTransport(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}, nil)
	if _, err := b.get(context.Background()); err != nil {
		t.Fatalf("get: %v", err)
	}
	if n := testutil.CollectAndCount(b.reg, "ztbroker_upstream_request_duration_seconds"); n != 1 {
		t.Fatalf("duration series = %d, want 1", n)
	}
	if out := metricsText(t, b.reg); !strings.Contains(out,
		`ztbroker_upstream_request_duration_seconds_count{operation="list",status="503",upstream="test"} 1`) {
		t.Errorf("metrics output lacks the expected series:\n%s", out)
	}
}

func TestNewMetricsTwiceOnOneRegistry(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	for range 2 {
		if _, err := upstream.NewMetrics(reg); err != nil {
			t.Fatalf("NewMetrics: %v", err)
		}
	}
}
