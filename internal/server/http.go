package server

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/protobuf/encoding/protojson"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/apidocs"
	"github.com/ztbroker/ztbroker/internal/broker"
	"github.com/ztbroker/ztbroker/internal/httperr"
	"github.com/ztbroker/ztbroker/internal/panics"
	"github.com/ztbroker/ztbroker/internal/proxy"
)

type httpDeps struct {
	service      *broker.Service
	authenticate func(http.Handler) http.Handler
	gatherer     prometheus.Gatherer
	maxBody      int64
	ready        func(context.Context) error
	// readyDetail, when set, adds lines to /readyz and can make it fail.
	readyDetail func() (lines []string, ok bool)
	extra       map[string]http.Handler
	tracer      trace.TracerProvider
	panics      *panics.Policy
	// proxy serves /zt/; nil serves nothing there.
	proxy http.Handler
}

// newHTTPHandler serves the REST gateway under /v1/ plus the operational
// endpoints. The gateway calls the service in-process rather than dialing
// the gRPC port: it saves a network hop on every request, and the HTTP
// middleware does the authentication the gRPC interceptor would.
func newHTTPHandler(ctx context.Context, d httpDeps) (http.Handler, error) {
	gw := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.JSONPb{
			MarshalOptions:   protojson.MarshalOptions{UseProtoNames: true, EmitUnpopulated: false},
			UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
		}),
		runtime.WithOutgoingHeaderMatcher(outgoingHeader),
		runtime.WithRoutingErrorHandler(routingError),
	)
	if err := ztbrokerv1.RegisterTokenBrokerHandlerServer(ctx, gw, d.service); err != nil {
		return nil, err
	}
	if err := ztbrokerv1.RegisterAdminServiceHandlerServer(ctx, gw, d.service); err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.Handle("/v1/", d.authenticate(limitBody(d.maxBody, gw)))
	mux.Handle("GET /metrics", promhttp.HandlerFor(d.gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(apidocs.OpenAPI)
	})
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		var lines []string
		ok := true
		if d.readyDetail != nil {
			lines, ok = d.readyDetail()
		}
		if err := d.ready(r.Context()); err != nil || !ok {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "not ready\n"+strings.Join(append(lines, ""), "\n"))
			return
		}
		_, _ = io.WriteString(w, "ok\n"+strings.Join(append(lines, ""), "\n"))
	})
	for pattern, h := range d.extra {
		mux.Handle(pattern, h)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httperr.Write(w, http.StatusNotFound, codes.NotFound, "no route for "+r.Method+" "+r.URL.Path)
	})
	root := http.Handler(mux)
	if d.proxy != nil {
		root = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			// Routed on the raw target, before ServeMux would clean it:
			// the proxy refuses what needs cleaning rather than have it
			// redirected into something it would accept.
			if proxy.IsProxyTarget(r.RequestURI) {
				d.proxy.ServeHTTP(w, r)
				return
			}
			mux.ServeHTTP(w, r)
		})
	}
	if !tracing(d.tracer) {
		return d.panics.HTTP(root), nil
	}
	return otelhttp.NewHandler(d.panics.HTTP(root), "http",
		otelhttp.WithTracerProvider(d.tracer),
		otelhttp.WithSpanNameFormatter(func(_ string, r *http.Request) string { return r.Method + " " + r.URL.Path }),
	), nil
}

// outgoingHeader turns the service's retry-after metadata into the
// standard header REST clients understand.
func outgoingHeader(key string) (string, bool) {
	if strings.EqualFold(key, "retry-after") {
		return "Retry-After", true
	}
	return runtime.DefaultHeaderMatcher(key)
}

func routingError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, status int) {
	switch status {
	case http.StatusMethodNotAllowed:
		httperr.Write(w, status, codes.Unimplemented, "method "+r.Method+" not allowed on "+r.URL.Path)
	default:
		httperr.Write(w, http.StatusNotFound, codes.NotFound, "no route for "+r.Method+" "+r.URL.Path)
	}
}

// limitBody answers 413 for bodies over max. The gateway alone would
// report a truncated body as malformed JSON (400), which misleads the
// caller about what to fix.
func limitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > max {
			httperr.Write(w, http.StatusRequestEntityTooLarge, codes.InvalidArgument, "request body exceeds the limit")
			return
		}
		if r.Body != nil && r.Body != http.NoBody {
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, max))
			var tooBig *http.MaxBytesError
			switch {
			case errors.As(err, &tooBig):
				httperr.Write(w, http.StatusRequestEntityTooLarge, codes.InvalidArgument, "request body exceeds the limit")
				return
			case err != nil:
				httperr.Write(w, http.StatusBadRequest, codes.InvalidArgument, "could not read request body")
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		next.ServeHTTP(w, r)
	})
}
