package server

import (
	"context"
	"os"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"
)

// setupTracing returns a provider exporting spans over OTLP when the
// standard OTEL_EXPORTER_OTLP_* variables name an endpoint. Otherwise it
// returns a no-op provider, which also tells the doors and the upstream
// clients to leave their instrumentation out: spans that nobody exports
// would cost every request (propagation, attributes, wrapped writers)
// for nothing.
func setupTracing(ctx context.Context) (trace.TracerProvider, func(context.Context) error, error) {
	if os.Getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && os.Getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		return noop.NewTracerProvider(), func(context.Context) error { return nil }, nil
	}
	otel.SetTextMapPropagator(propagation.NewCompositeTextMapPropagator(propagation.TraceContext{}, propagation.Baggage{}))
	exp, err := otlptracegrpc.New(ctx)
	if err != nil {
		return nil, nil, err
	}
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(exp))
	otel.SetTracerProvider(tp)
	return tp, tp.Shutdown, nil
}

// tracing reports whether tp records anything, so that instrumentation is
// installed only where it can matter.
func tracing(tp trace.TracerProvider) bool {
	_, off := tp.(noop.TracerProvider)
	return !off
}
