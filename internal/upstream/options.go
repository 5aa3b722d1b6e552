package upstream

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// Defaults for Options.
const (
	DefaultTimeout       = 10 * time.Second
	DefaultThrottlePause = time.Second
	DefaultMaxPause      = 5 * time.Minute
)

// Options is the cross-cutting behaviour every upstream client shares.
type Options struct {
	// Name identifies the upstream in metrics and logs, e.g. the kind and
	// account. It becomes a label value, so it must never be a secret.
	Name string
	// RateLimit is requests per second; zero means DefaultRateLimit and a
	// negative value disables the bucket (429 pauses still apply).
	RateLimit float64
	// Burst is the bucket size; zero derives it from RateLimit.
	Burst int
	// Limiter, when set, is used instead of one built from RateLimit and
	// Burst, so clients that share an upstream quota share one queue.
	Limiter *Limiter
	// Timeout bounds each call, including time queued on the limiter.
	Timeout time.Duration
	// ThrottlePause is how long a 429 without a usable reset header pauses
	// the upstream; MaxPause caps what any header may ask for.
	ThrottlePause time.Duration
	MaxPause      time.Duration
	// Registerer receives the request metrics; nil records none.
	Registerer prometheus.Registerer
	// TracerProvider makes the spans; nil means otel's global provider. A
	// no-op provider (go.opentelemetry.io/otel/trace/noop) leaves the
	// tracing transport out altogether.
	TracerProvider trace.TracerProvider
	// Logger receives throttling notices; nil discards them.
	Logger *slog.Logger
	// Clock drives the limiter; nil means real time.
	Clock Clock
	// Skew, when set, learns the upstream's clock from each response's
	// Date header (and is exported as ztbroker_upstream_clock_skew_seconds).
	Skew *ClockSkew
}

// NewHTTPClient returns a copy of base whose transport adds, outermost
// first: tracing (so a span covers time queued; left out for a no-op
// provider), the per-call timeout, the
// rate limiter with its 429 pause, and metrics around the real round trip.
// A nil base gets a private transport cloned from http.DefaultTransport.
func NewHTTPClient(base *http.Client, o Options) (*http.Client, error) {
	if o.Name == "" {
		return nil, errors.New("upstream options: Name is required")
	}
	if o.Timeout < 0 || o.ThrottlePause < 0 || o.MaxPause < 0 {
		return nil, errors.New("upstream options: durations must not be negative")
	}
	o.Timeout = cmp.Or(o.Timeout, DefaultTimeout)
	o.ThrottlePause = cmp.Or(o.ThrottlePause, DefaultThrottlePause)
	o.MaxPause = cmp.Or(o.MaxPause, DefaultMaxPause)
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.Limiter == nil {
		o.Limiter = NewLimiter(o.RateLimit, o.Burst, o.Clock)
	}

	var hc http.Client
	if base != nil {
		hc = *base
	}
	next := hc.Transport
	if next == nil {
		next = http.DefaultTransport.(*http.Transport).Clone()
	}
	if o.Skew != nil {
		next = &skewTransport{next: next, skew: o.Skew}
	}
	if o.Registerer != nil {
		m, err := NewMetrics(o.Registerer)
		if err != nil {
			return nil, fmt.Errorf("upstream options: registering metrics: %w", err)
		}
		next = &metricsTransport{next: next, m: m, name: o.Name}
		if o.Skew != nil {
			gauge := m.skew.WithLabelValues(o.Name)
			o.Skew.notify(func(d time.Duration) { gauge.Set(d.Seconds()) })
		}
	}
	next = &limitTransport{next: next, o: o}
	next = &timeoutTransport{next: next, timeout: o.Timeout}
	if _, off := o.TracerProvider.(noop.TracerProvider); off {
		hc.Transport = next
		return &hc, nil
	}
	otelOpts := []otelhttp.Option{
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string {
			return "upstream " + OperationFrom(r.Context())
		}),
	}
	if o.TracerProvider != nil {
		otelOpts = append(otelOpts, otelhttp.WithTracerProvider(o.TracerProvider))
	}
	hc.Transport = otelhttp.NewTransport(next, otelOpts...)
	return &hc, nil
}
