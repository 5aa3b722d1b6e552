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
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	ztbrokerv1 "github.com/ztbroker/ztbroker/gen/ztbroker/v1"
	"github.com/ztbroker/ztbroker/internal/apidocs"
	"github.com/ztbroker/ztbroker/internal/broker"
	"github.com/ztbroker/ztbroker/internal/errs"
	"github.com/ztbroker/ztbroker/internal/httperr"
	"github.com/ztbroker/ztbroker/internal/panics"
	"github.com/ztbroker/ztbroker/internal/proxy"
	"github.com/ztbroker/ztbroker/internal/restjson"
	"github.com/ztbroker/ztbroker/internal/validutf8"
)

type httpDeps struct {
	service      *broker.Service
	authenticate func(http.Handler) http.Handler
	gatherer     prometheus.Gatherer
	maxBody      int64
	ready        func(context.Context) error
	// opsElsewhere leaves /metrics, /healthz and /readyz to the ops
	// listener.
	opsElsewhere bool
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
	restjson.UseQueryParser()
	gw := runtime.NewServeMux(
		runtime.WithMarshalerOption(runtime.MIMEWildcard, restjson.New()),
		runtime.WithOutgoingHeaderMatcher(outgoingHeader),
		runtime.WithRoutingErrorHandler(routingError),
		runtime.WithErrorHandler(httpError),
	)
	if err := ztbrokerv1.RegisterTokenBrokerHandlerServer(ctx, gw, d.service); err != nil {
		return nil, err
	}
	if err := ztbrokerv1.RegisterAdminServiceHandlerServer(ctx, gw, d.service); err != nil {
		return nil, err
	}

	mux := http.NewServeMux()
	mux.Handle("/v1/", d.authenticate(limitBody(d.maxBody, checkPath(gw))))
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(apidocs.OpenAPI)
	})
	if !d.opsElsewhere {
		handleOps(mux, d.gatherer, d.ready, d.readyDetail)
	}
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

// handleOps mounts the operational endpoints: metrics, liveness and
// readiness.
func handleOps(mux *http.ServeMux, gatherer prometheus.Gatherer, ready func(context.Context) error, detail func() ([]string, bool)) {
	mux.Handle("GET /metrics", promhttp.HandlerFor(gatherer, promhttp.HandlerOpts{}))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "ok\n")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		var lines []string
		ok := true
		if detail != nil {
			lines, ok = detail()
		}
		if err := ready(r.Context()); err != nil || !ok {
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "not ready\n"+strings.Join(append(lines, ""), "\n"))
			return
		}
		_, _ = io.WriteString(w, "ok\n"+strings.Join(append(lines, ""), "\n"))
	})
}

// newOpsHandler serves the operational endpoints alone, for
// listen.ops_addr.
func newOpsHandler(gatherer prometheus.Gatherer, ready func(context.Context) error, detail func() ([]string, bool), p *panics.Policy) http.Handler {
	mux := http.NewServeMux()
	handleOps(mux, gatherer, ready, detail)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		httperr.Write(w, http.StatusNotFound, codes.NotFound, "no route for "+r.Method+" "+r.URL.Path)
	})
	return p.HTTP(mux)
}

// outgoingHeader turns the service's retry-after metadata into the
// standard header REST clients understand.
func outgoingHeader(key string) (string, bool) {
	if strings.EqualFold(key, "retry-after") {
		return "Retry-After", true
	}
	return runtime.DefaultHeaderMatcher(key)
}

// httpError answers as grpc-gateway does, except that a reused
// idempotency key is 409 Conflict rather than FAILED_PRECONDITION's 400:
// the request conflicts with the lease the key already names.
func httpError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if hasReason(err, errs.ReasonIdempotencyKeyReused) {
		err = &runtime.HTTPStatusError{HTTPStatus: http.StatusConflict, Err: err}
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, w, r, err)
}

func hasReason(err error, reason string) bool {
	st, ok := status.FromError(err)
	if !ok {
		return false
	}
	for _, d := range st.Details() {
		if info, ok := d.(*errdetails.ErrorInfo); ok && info.GetReason() == reason && info.GetDomain() == broker.ErrorDomain {
			return true
		}
	}
	return false
}

func routingError(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, status int) {
	switch status {
	case http.StatusMethodNotAllowed:
		httperr.Write(w, status, codes.Unimplemented, "method "+r.Method+" not allowed on "+r.URL.Path)
	default:
		httperr.Write(w, http.StatusNotFound, codes.NotFound, "no route for "+r.Method+" "+r.URL.Path)
	}
}

// checkPath refuses a path that is not UTF-8 before the gateway copies
// its segments into a request; restjson checks the body and the query.
func checkPath(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := validutf8.CheckPath(r.URL); err != nil {
			httperr.Write(w, http.StatusBadRequest, codes.InvalidArgument, "invalid request: "+err.Error())
			return
		}
		next.ServeHTTP(w, r)
	})
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
