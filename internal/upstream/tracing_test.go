package upstream_test

import (
	"testing"

	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/ztbroker/ztbroker/internal/upstream"
)

// TestTracingTransport: a client traces its calls unless its provider is
// a no-op one, which the server passes when no exporter is configured, so
// that unexported spans cost nothing.
func TestTracingTransport(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		tp     trace.TracerProvider
		traced bool
	}{
		{"sdk provider", sdktrace.NewTracerProvider(), true},
		{"global provider", nil, true},
		{"no-op provider", noop.NewTracerProvider(), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			hc, err := upstream.NewHTTPClient(nil, upstream.Options{Name: "test", TracerProvider: tc.tp})
			if err != nil {
				t.Fatal(err)
			}
			if _, traced := hc.Transport.(*otelhttp.Transport); traced != tc.traced {
				t.Errorf("transport %T: traced %t, want %t", hc.Transport, traced, tc.traced)
			}
		})
	}
}
